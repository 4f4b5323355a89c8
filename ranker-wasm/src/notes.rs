//! Candidate notes from an item table (`Ranker.load(bytes, {items})`, `ranker.setItems(bytes)`):
//! a thin wrapper over `alro_core::notes`, which holds every rule (title matching, tiers).

use alro_core::notes::{check_table, fill_notes, ItemTable};
use alro_core::prompt::PromptConfig;
use alro_core::request::RankRequest;
use serde::Serialize;

/// Reads a table file's bytes; the error says what is wrong with it.
pub fn parse(bytes: &[u8], what: &str) -> Result<ItemTable, String> {
    ItemTable::from_json(bytes).map_err(|e| format!("{what}: {e}"))
}

/// Fills the notes `prompt` requires into candidates without one, from `table` when there is
/// one; returns the titles the table does not know. Without a table nothing changes and
/// validation reports the missing notes as before; a table that cannot give the ranker's notes
/// (match notes in other tiers, or none) is an error saying how to build one.
pub fn fill(
    req: &mut RankRequest,
    prompt: &PromptConfig,
    table: Option<&ItemTable>,
) -> Result<Vec<String>, String> {
    match table {
        Some(t) if prompt.needs_notes() => {
            check_table(t, prompt).map_err(|e| e.to_string())?;
            Ok(fill_notes(req, prompt, t)
                .unknown_titles()
                .into_iter()
                .map(str::to_string)
                .collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// The hint appended to a missing-note error when no table was loaded.
pub const NO_TABLE_HINT: &str = " — or let the ranker compute the notes: load an item table \
    with Ranker.load(bytes, {items}) or ranker.setItems(bytes) (the file \
    models/items-ml-latest-small.json, built by `alro items build`)";

/// What `itemsInfo()` returns.
#[derive(Serialize)]
pub struct ItemsInfo<'a> {
    pub source: &'a str,
    pub items: usize,
    pub users: usize,
}

impl<'a> ItemsInfo<'a> {
    pub fn of(t: &'a ItemTable) -> Self {
        ItemsInfo {
            source: t.source(),
            items: t.len(),
            users: t.users(),
        }
    }
}
