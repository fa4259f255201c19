//! Changes to an ultra group (ULG) as one command: most stay within the ultra group; a
//! message edit (ULG-07) also publishes the `RC:MsgModify` notice.

use serde::{Deserialize, Serialize};

use super::publish::{publish, Publication};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::store::Overlay;
use crate::state::ultragroups::{self, UltraGroupChange};

/// Changes one ultra group (ULG).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeUltraGroup {
    pub app_key: String,
    pub group_id: String,
    pub change: UltraGroupChange,
}

impl Apply for ChangeUltraGroup {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let Self {
            app_key,
            group_id,
            change,
        } = self;
        match ultragroups::change(ctx, state, app_key, group_id, change)? {
            Some(notice) => publish(ctx, state, app_key, &[notice]),
            None => Ok(Vec::new()),
        }
    }
}
