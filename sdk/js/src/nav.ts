// Navigation: which edges to connect to. Asks the navs carried in the token (after `@`),
// then the configured ones in order (primary, backup), and falls back to the last answer
// it got (kept in the store) when none answers, as the commercial SDKs do.

import { AuthError, MeridianError } from "./errors.js";
import { Codes } from "./protocol.js";
import type { KeyValueStore } from "./store.js";

/** `GET /v1/nav`'s answer: the area's healthy edges, best first. */
export interface Route {
  area: string;
  edges: { ws: string; location?: string; sessions?: number }[];
  heartbeatMs: number;
  api: string[];
}

/** No nav answered and nothing was cached. Retried by the client with backoff. */
export class NavUnreachableError extends MeridianError {
  constructor(message: string) {
    super(Codes.UNAVAILABLE, message);
  }
}

export interface NavOptions {
  appKey: string;
  navs: string[];
  area?: string;
  store: KeyValueStore;
  fetch: typeof fetch;
  timeoutMs: number;
}

/** The token without nav hosts, and the hosts (base URLs) it carried. */
export function splitToken(token: string): { token: string; navs: string[] } {
  const at = token.indexOf("@");
  if (at < 0) return { token, navs: [] };
  const navs = token
    .slice(at + 1)
    .split(";")
    .filter((h) => h.length > 0)
    .map((h) => (/^https?:\/\//.test(h) ? h : `http://${h}`));
  return { token: token.slice(0, at), navs };
}

export class Navigator {
  /** Which nav gave the last answer ("cache" when none did). For tests and diagnostics. */
  lastSource: string | undefined;

  constructor(private readonly options: NavOptions) {}

  private get cacheKey(): string {
    return `meridian/${this.options.appKey}/nav`;
  }

  async route(fullToken: string): Promise<Route> {
    const { token, navs: carried } = splitToken(fullToken);
    const query = new URLSearchParams({ appKey: this.options.appKey, token });
    if (this.options.area) query.set("area", this.options.area);
    let lastError = "no nav configured";
    for (const nav of [...carried, ...this.options.navs]) {
      const url = `${nav.replace(/\/$/, "")}/v1/nav?${query}`;
      let response: Response;
      try {
        response = await this.options.fetch(url, {
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (e) {
        lastError = `${nav}: ${(e as Error).message}`;
        continue;
      }
      const body = await response.text();
      if (response.status === 200) {
        this.lastSource = nav;
        await this.options.store.set(this.cacheKey, body);
        return JSON.parse(body) as Route;
      }
      // The app or token is refused: asking another nav would get the same answer.
      if (response.status === 401) throw new AuthError(Codes.TOKEN_INCORRECT, `nav: ${body}`);
      if (response.status === 403 || response.status === 421) {
        throw new MeridianError(response.status, `nav ${nav}: ${body}`);
      }
      lastError = `${nav} answered ${response.status}: ${body}`;
    }
    const cached = await this.options.store.get(this.cacheKey);
    if (cached !== undefined) {
      this.lastSource = "cache";
      return JSON.parse(cached) as Route;
    }
    throw new NavUnreachableError(lastError);
  }
}
