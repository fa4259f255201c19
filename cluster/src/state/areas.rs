//! The area catalog as operators manage it (`/admin/v1/areas`, Terraform's
//! `meridian_area`): how clients and app servers reach each area. It is operator
//! metadata, not app data, so every area may keep entries for the others; navs read it
//! to name an area's nav and API hosts and to find its edges.

use meridian_regions::{AreaCode, CatalogEntry};

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::command::LEGACY_COMMAND_LEVEL;
use super::keys;
use super::store::{Overlay, StateRead};

/// Creates or replaces the entry for its area.
pub(super) fn put(
    state: &mut Overlay<'_>,
    entry: &CatalogEntry,
) -> Result<CatalogEntry, CommandError> {
    entry
        .validate()
        .map_err(|e| CommandError::invalid(&e.key, e.reason))?;
    state.put(keys::areas::entry(entry.code), entry)?;
    Ok(entry.clone())
}

pub fn get(state: &impl StateRead, code: AreaCode) -> Result<CatalogEntry, CommandError> {
    state
        .get(&keys::areas::entry(code))?
        .ok_or_else(|| CommandError::not_found(format!("area {code} in the catalog")))
}

/// Every entry, by area code.
pub fn list(state: &impl StateRead) -> Result<Vec<CatalogEntry>, CommandError> {
    let mut entries: Vec<CatalogEntry> = state.scan(keys::areas::CATALOG)?;
    entries.sort_by_key(|e| e.code);
    Ok(entries)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteAreaEntry {
    pub code: AreaCode,
}

impl Apply for DeleteAreaEntry {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let code = self.code;
        get(state, code)?;
        state.delete(keys::areas::entry(code));
        Ok(())
    }
}

/// Creates or replaces an entry of the area catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutAreaEntry(pub CatalogEntry);

impl Apply for PutAreaEntry {
    type Answer = CatalogEntry;

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<CatalogEntry, CommandError> {
        put(state, &self.0)
    }
}

/// The command level every voter of the area had reached when the leader last said so
/// (LIFE-05); [`LEGACY_COMMAND_LEVEL`] before. A behaviour change inside the apply of a
/// command older builds know too waits for it, so that no entry is applied two ways by
/// replicas of two builds during a rolling upgrade.
pub fn level(state: &impl StateRead) -> Result<u32, CommandError> {
    Ok(state
        .get(keys::areas::LEVEL)?
        .unwrap_or(LEGACY_COMMAND_LEVEL))
}

/// The area's voters all know `level` (the leader proposes it once its upgrade gate
/// says so); the recorded level only rises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAreaLevel {
    pub level: u32,
}

impl Apply for SetAreaLevel {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        if self.level > level(state)? {
            state.put(keys::areas::LEVEL.to_vec(), &self.level)?;
        }
        Ok(())
    }
}
