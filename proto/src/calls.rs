//! The object names of the CallLib's signalling messages (RTC-03): a call is ordinary IM
//! messages of these types, which the cluster reads to keep its record of the call.

pub const INVITE: &str = "RC:VCInvite";
pub const RINGING: &str = "RC:VCRinging";
pub const ACCEPT: &str = "RC:VCAccept";
pub const HANGUP: &str = "RC:VCHangup";
pub const MODIFY_MEMBERS: &str = "RC:VCModifyMem";
pub const MODIFY_MEDIA: &str = "RC:VCModifyMedia";
