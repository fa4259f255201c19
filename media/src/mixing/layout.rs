//! Where each video of a mixed room is drawn on the canvas (RTC-09): the seed's custom,
//! floating and adaptive layouts. Pure arithmetic, so the layouts are tested apart from
//! the pipeline that draws them.

use meridian_cluster::state::rtc::{LayoutKind, MixSettings};

/// A video's place on the canvas, in pixels; `layer` orders overlapping videos (higher
/// on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub layer: u32,
}

/// A floating video's size, as a share of the canvas's.
const FLOATING_SHARE: i32 = 4;

/// The places of `videos` (their publishers' user ids, earliest publisher first) on the
/// canvas of `settings`; `None` for a video the layout does not draw.
pub(crate) fn place(settings: &MixSettings, videos: &[&str]) -> Vec<Option<Place>> {
    let (width, height) = (settings.width as i32, settings.height as i32);
    match settings.layout {
        LayoutKind::Adaptive => adaptive(width, height, videos.len()),
        LayoutKind::Floating => {
            let main = settings
                .main_user_id
                .as_deref()
                .and_then(|main| videos.iter().position(|user| *user == main))
                .unwrap_or(0);
            floating(width, height, videos.len(), main)
        }
        LayoutKind::Custom => videos
            .iter()
            .enumerate()
            .map(|(i, user)| {
                // A member's first video takes its region; a second one is not drawn.
                if videos[..i].contains(user) {
                    return None;
                }
                let region = settings.regions.iter().find(|r| r.user_id == *user)?;
                Some(Place {
                    x: region.x as i32,
                    y: region.y as i32,
                    width: region.width as i32,
                    height: region.height as i32,
                    layer: 1,
                })
            })
            .collect(),
    }
}

/// A grid of equal cells, as square as the count allows, filled row by row.
fn adaptive(width: i32, height: i32, count: usize) -> Vec<Option<Place>> {
    if count == 0 {
        return Vec::new();
    }
    let columns = (count as f64).sqrt().ceil() as i32;
    let rows = (count as i32 + columns - 1) / columns;
    let (cell_width, cell_height) = (width / columns, height / rows);
    (0..count as i32)
        .map(|i| {
            Some(Place {
                x: (i % columns) * cell_width,
                y: (i / columns) * cell_height,
                width: cell_width,
                height: cell_height,
                layer: 1,
            })
        })
        .collect()
}

/// The main video over the whole canvas, the others a quarter its size along its right
/// edge from the top, then in the column to the left of that.
fn floating(width: i32, height: i32, count: usize, main: usize) -> Vec<Option<Place>> {
    let (small_width, small_height) = (width / FLOATING_SHARE, height / FLOATING_SHARE);
    let margin = height / 40;
    let per_column = ((height - margin) / (small_height + margin)).max(1);
    let mut floating = 0;
    (0..count)
        .map(|i| {
            if i == main {
                return Some(Place {
                    x: 0,
                    y: 0,
                    width,
                    height,
                    layer: 1,
                });
            }
            let (column, row) = (floating / per_column, floating % per_column);
            floating += 1;
            let x = width - (column + 1) * (small_width + margin);
            // Past the canvas's left edge: no room left to draw it.
            (x >= 0).then_some(Place {
                x,
                y: margin + row * (small_height + margin),
                width: small_width,
                height: small_height,
                layer: 2,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_cluster::state::rtc::MixRegion;

    fn settings(layout: LayoutKind) -> MixSettings {
        MixSettings {
            layout,
            width: 1280,
            height: 720,
            fps: 25,
            bitrate_kbps: 1_500,
            push_urls: vec!["rtmp://cdn/live/k".into()],
            main_user_id: None,
            regions: Vec::new(),
        }
    }

    fn at(x: i32, y: i32, width: i32, height: i32, layer: u32) -> Option<Place> {
        Some(Place {
            x,
            y,
            width,
            height,
            layer,
        })
    }

    #[test]
    fn adaptive_splits_the_canvas_into_equal_cells() {
        let s = settings(LayoutKind::Adaptive);
        assert_eq!(place(&s, &["a"]), vec![at(0, 0, 1280, 720, 1)]);
        assert_eq!(
            place(&s, &["a", "b"]),
            vec![at(0, 0, 640, 720, 1), at(640, 0, 640, 720, 1)]
        );
        let three = place(&s, &["a", "b", "c"]);
        assert_eq!(three[2], at(0, 360, 640, 360, 1), "2×2, row by row");
        assert_eq!(place(&s, &["a", "b", "c", "d", "e"]).len(), 5);
        assert_eq!(
            place(&s, &["a", "b", "c", "d", "e"])[4],
            at(426, 360, 426, 360, 1),
            "3 columns, 2 rows"
        );
        assert!(place(&s, &[]).is_empty());
    }

    #[test]
    fn floating_puts_the_main_video_under_the_others() {
        let mut s = settings(LayoutKind::Floating);
        s.main_user_id = Some("b".into());
        let placed = place(&s, &["a", "b", "c"]);
        assert_eq!(placed[1], at(0, 0, 1280, 720, 1), "b is the main video");
        assert_eq!(placed[0], at(1280 - 320 - 18, 18, 320, 180, 2));
        assert_eq!(placed[2], at(1280 - 320 - 18, 18 + 180 + 18, 320, 180, 2));
        // Without a main member publishing, the earliest publisher is the main video.
        s.main_user_id = Some("z".into());
        assert_eq!(place(&s, &["a", "b"])[0], at(0, 0, 1280, 720, 1));
        // A fourth floating video starts the next column to the left.
        let many = place(&s, &["m", "1", "2", "3", "4"]);
        assert_eq!(many[4], at(1280 - 2 * (320 + 18), 18, 320, 180, 2));
    }

    #[test]
    fn custom_draws_members_where_their_regions_say_and_no_one_else() {
        let mut s = settings(LayoutKind::Custom);
        s.regions = vec![MixRegion {
            user_id: "b".into(),
            x: 10,
            y: 20,
            width: 300,
            height: 200,
        }];
        assert_eq!(
            place(&s, &["a", "b", "b"]),
            vec![None, at(10, 20, 300, 200, 1), None]
        );
    }
}
