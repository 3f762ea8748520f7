//! The POSTed collection: size, JSON and the item cap, checked before any item is looked at.

use crate::app::App;
use crate::entry::http::HttpRequest;
use crate::graph::notification::ChangeNotificationCollection;
use http::StatusCode;
use serde::Deserialize;

/// The most items one collection may carry; more is refused whole (413) before any is looked
/// at. Graph batches far fewer: a rich presence item is well over 1 KB, so even a body at the
/// 1 MiB limit holds fewer than 1,000, while 1 MiB of minimal forged items is about 45,000.
pub const MAX_ITEMS_PER_COLLECTION: usize = 1_000;

/// A request answered with an error before any item is looked at.
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refused {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// The POSTed collection (the method is checked before), or why it is refused (413, 400).
pub(super) fn read_collection(
    app: &App,
    req: &HttpRequest,
) -> Result<ChangeNotificationCollection, Refused> {
    let body = req.body();
    if body.len() > app.settings.max_body_bytes {
        return Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes exceeds the limit of {} bytes",
                body.len(),
                app.settings.max_body_bytes
            ),
        ));
    }
    parse_collection(body)
}

/// The collection in two passes, so that a body of many items costs no memory: the first only
/// checks the syntax and counts the items (nothing is kept), the second, within the item cap,
/// builds the typed collection.
pub(crate) fn parse_collection(body: &[u8]) -> Result<ChangeNotificationCollection, Refused> {
    let bad = |message: String| Refused::new(StatusCode::BAD_REQUEST, message);
    let outline: Outline = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            bad(format!("not a changeNotificationCollection: {e}"))
        } else {
            bad(format!("malformed JSON: {e}"))
        }
    })?;
    let Some(ItemCount(count)) = outline.value else {
        return Err(bad(
            "missing `value`: expected a changeNotificationCollection".to_string(),
        ));
    };
    if count > MAX_ITEMS_PER_COLLECTION {
        return Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{count} notification items exceed the limit of {MAX_ITEMS_PER_COLLECTION} per collection"
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| bad(format!("not a changeNotificationCollection: {e}")))
}

/// The shape of a collection without its content.
#[derive(Deserialize)]
struct Outline {
    #[serde(default)]
    value: Option<ItemCount>,
}

/// How many elements an array has, counted without keeping any.
struct ItemCount(usize);

impl<'de> Deserialize<'de> for ItemCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = ItemCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`value` as an array of notification items")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ItemCount, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ItemCount(n))
            }
        }
        d.deserialize_seq(Counter)
    }
}
