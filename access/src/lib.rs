//! Who a request to an edge or a nav is for, and whether it may: the app directory (which
//! area an App Key lives in, with its secret and settings), user tokens, and the Server
//! API's request parameters and error table, which nav's answers share.

pub mod directory;
pub mod error;
pub mod params;
pub mod token;
