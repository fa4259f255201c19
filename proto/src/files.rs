//! The media a message points at (FILE-01): what kinds of file an app uploads, and the
//! JSON of the upload API the edge serves and the SDKs call (`docs/files.md`).

use serde::{Deserialize, Serialize};

/// What an upload is for; each kind has its own size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `RC:ImgMsg`: a photo; the upload answer carries its thumbnail.
    Image,
    /// `RC:GIFMsg`.
    Gif,
    /// `RC:HQVCMsg`: a voice clip.
    Voice,
    /// `RC:SightMsg`: a short video.
    Video,
    /// `RC:FileMsg`: any file.
    File,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::Image,
        FileKind::Gif,
        FileKind::Voice,
        FileKind::Video,
        FileKind::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Gif => "gif",
            FileKind::Voice => "voice",
            FileKind::Video => "video",
            FileKind::File => "file",
        }
    }

    pub fn parse(text: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The message type whose content carries a file of this kind.
    pub fn object_name(self) -> &'static str {
        match self {
            FileKind::Image => "RC:ImgMsg",
            FileKind::Gif => "RC:GIFMsg",
            FileKind::Voice => "RC:HQVCMsg",
            FileKind::Video => "RC:SightMsg",
            FileKind::File => "RC:FileMsg",
        }
    }
}

/// `POST /files/v1/grants`: what the uploader says it will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRequest {
    pub kind: FileKind,
    /// Bytes the upload will hold; the upload may not exceed it.
    pub size: u64,
    /// The file's name, shown to recipients and used in `Content-Disposition`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub content_type: String,
    /// Keep the file (and its links) only this long instead of the app's link lifetime
    /// (disappearing media); more than that lifetime is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_seconds: Option<u64>,
    /// The conversation the file will be sent in. In the app's private mode only its
    /// members (and the uploader and the app server) may fetch the file, and a user's
    /// upload must name one it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<UploadFor>,
}

/// The conversation an upload is for, as the uploader names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadFor {
    /// The conversation type code (1 private, 3 group, 4 chatroom, 6 system, 10 ultra group).
    #[serde(rename = "type")]
    pub conversation_type: u8,
    /// The other user, the group, the room or the ultra group.
    pub target_id: String,
    /// The app server's uploads for a private or system conversation: the sending user or
    /// system account (a user's own uploads are from itself).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sender_id: String,
}

/// The answer to a grant: where to send the bytes, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub file_id: String,
    /// Absolute URL to `PUT` the bytes to.
    pub upload_url: String,
    pub expires_at_ms: u64,
}

/// The answer to an upload: what the sender puts in its message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
    pub file_id: String,
    pub kind: FileKind,
    pub size: u64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub content_type: String,
    pub name: String,
    /// Signed download link (the message content's `imageUri`/`fileUrl`/`sightUrl`/…).
    pub url: String,
    /// Images, and videos' first frames: a small JPEG preview, base64 (the image or
    /// sight message's `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Images: a signed link to a resized preview (at most 1080 px a side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Videos: their length (the sight message's `duration`, in seconds there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}
