//! How the hot entities (Status, Account and what they hold) are written as JSON: each
//! lists its fields once ([`Entity`]), and the list is written either through serde, for
//! any serializer ([`serialize_entity`]), or straight into a JSON buffer with its keys
//! copied as they are ([`write_entity`]).
//!
//! Why: serde_json escapes every key byte by byte and writes it in five pieces, ~150
//! instructions a key; a home page has ~1,100 keys, a tenth of its instructions in
//! callgrind. The keys are fixed ASCII names with nothing to escape. Text values (and
//! URLs, written from their parts) are copied as they are when nothing in them needs
//! escaping, which is nearly always: serde_json looks each byte up in its escape table and
//! writes a string in pieces, ~190 instructions for a short one. Other values go through
//! serde_json.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// Where an entity's fields go, in order.
pub(crate) trait Fields {
    /// What writing a field can fail with.
    type Error;
    /// A field with a plain value.
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error>;
    /// A field holding text.
    fn text(&mut self, key: &'static str, value: &str) -> Result<(), Self::Error> {
        self.field(key, value)
    }
    /// A field holding a URL, written from its parts without joining them first.
    fn url(&mut self, key: &'static str, parts: &[&str]) -> Result<(), Self::Error> {
        self.field(key, &Url(parts))
    }
    /// A field holding an entity, or `null`.
    fn entity<E: Entity>(
        &mut self,
        key: &'static str,
        value: Option<&E>,
    ) -> Result<(), Self::Error>;
    /// A field holding a list of entities.
    fn entities<E: Entity>(&mut self, key: &'static str, values: &[E]) -> Result<(), Self::Error>;
}

/// A JSON object whose fields are listed once, however they are written.
pub(crate) trait Entity {
    /// The name serde is given for it.
    const NAME: &'static str;
    /// Writes every field, in order.
    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error>;
}

/// A URL as a serde string, joined from its parts.
pub(crate) struct Url<'a>(pub(crate) &'a [&'a str]);

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Joined in a buffer on the stack and written as one string: through the
        // formatting machinery (`collect_str`) the six URLs of each account and post cost
        // a tenth of a home page's instructions. Longer URLs (a long base URL) are joined
        // on the heap.
        let mut buf = [0u8; URL_ON_STACK];
        let mut len = 0;
        for part in self.0 {
            match buf.get_mut(len..len + part.len()) {
                Some(slot) => slot.copy_from_slice(part.as_bytes()),
                None => return s.serialize_str(&self.0.concat()),
            }
            len += part.len();
        }
        // Whole strings joined are valid UTF-8; the check cannot fail.
        let joined = buf.get(..len).and_then(|b| std::str::from_utf8(b).ok());
        s.serialize_str(joined.unwrap_or_default())
    }
}

/// The longest URL joined on the stack.
pub(crate) const URL_ON_STACK: usize = 256;

/// Whether `text` goes into a JSON string as it is: no quote, backslash or control
/// character (what serde_json escapes). No early exit, so the loop is vectorised.
fn plain(text: &str) -> bool {
    text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    })
}

/// Writes an entity through serde.
pub(crate) fn serialize_entity<E: Entity, S: Serializer>(
    entity: &E,
    s: S,
) -> Result<S::Ok, S::Error> {
    // The exact count: serde_json, for one, writes `{}` at once for a struct of none.
    let mut count = Count(0);
    let Ok(()) = entity.fields(&mut count);
    let mut fields = ThroughSerde(s.serialize_struct(E::NAME, count.0)?);
    entity.fields(&mut fields)?;
    fields.0.end()
}

/// Counts an entity's fields.
struct Count(usize);

impl Fields for Count {
    type Error = std::convert::Infallible;

    fn field<T: Serialize + ?Sized>(&mut self, _: &'static str, _: &T) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }

    fn entity<E: Entity>(&mut self, _: &'static str, _: Option<&E>) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }

    fn entities<E: Entity>(&mut self, _: &'static str, _: &[E]) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
}

/// An entity as a serde value.
struct Via<'a, E>(&'a E);

impl<E: Entity> Serialize for Via<'_, E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entity(self.0, s)
    }
}

/// Entities as a serde list.
struct AllVia<'a, E>(&'a [E]);

impl<E: Entity> Serialize for AllVia<'_, E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Via))
    }
}

/// Fields written through serde's [`SerializeStruct`].
struct ThroughSerde<S>(S);

impl<S: SerializeStruct> Fields for ThroughSerde<S> {
    type Error = S::Error;

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, value)
    }

    fn entity<E: Entity>(&mut self, key: &'static str, value: Option<&E>) -> Result<(), S::Error> {
        self.0.serialize_field(key, &value.map(Via))
    }

    fn entities<E: Entity>(&mut self, key: &'static str, values: &[E]) -> Result<(), S::Error> {
        self.0.serialize_field(key, &AllVia(values))
    }
}

/// Writes an entity as a JSON object at the end of `out`.
pub(crate) fn write_entity<E: Entity>(out: &mut Vec<u8>, entity: &E) -> serde_json::Result<()> {
    out.push(b'{');
    entity.fields(&mut Raw { out, first: true })?;
    out.push(b'}');
    Ok(())
}

/// Fields written straight into a JSON buffer.
struct Raw<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Raw<'_> {
    /// `"key":`, after a comma unless it is the object's first.
    fn key(&mut self, key: &'static str) {
        debug_assert!(
            !key.contains(['"', '\\']) && key.is_ascii(),
            "{key} needs escaping"
        );
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
}

impl Fields for Raw<'_> {
    type Error = serde_json::Error;

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        self.key(key);
        serde_json::to_writer(&mut *self.out, value)
    }

    fn text(&mut self, key: &'static str, value: &str) -> serde_json::Result<()> {
        self.key(key);
        if !plain(value) {
            return serde_json::to_writer(&mut *self.out, value);
        }
        self.out.reserve(value.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
        Ok(())
    }

    fn url(&mut self, key: &'static str, parts: &[&str]) -> serde_json::Result<()> {
        self.key(key);
        if !parts.iter().all(|p| plain(p)) {
            return serde_json::to_writer(&mut *self.out, &Url(parts));
        }
        self.out
            .reserve(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
        self.out.push(b'"');
        for part in parts {
            self.out.extend_from_slice(part.as_bytes());
        }
        self.out.push(b'"');
        Ok(())
    }

    fn entity<E: Entity>(
        &mut self,
        key: &'static str,
        value: Option<&E>,
    ) -> serde_json::Result<()> {
        self.key(key);
        match value {
            Some(entity) => write_entity(self.out, entity),
            None => {
                self.out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    fn entities<E: Entity>(&mut self, key: &'static str, values: &[E]) -> serde_json::Result<()> {
        self.key(key);
        self.out.push(b'[');
        for (i, entity) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_entity(self.out, entity)?;
        }
        self.out.push(b']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.
    use super::*;

    struct Point {
        x: i64,
        label: &'static str,
        inner: Option<Box<Point>>,
        around: Vec<Point>,
    }

    impl Entity for Point {
        const NAME: &'static str = "Point";
        fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
            f.field("x", &self.x)?;
            f.text("label", self.label)?;
            f.url("url", &["https://x.example", "/@", self.label])?;
            f.entity("inner", self.inner.as_deref())?;
            f.entities("around", &self.around)
        }
    }

    /// Both ways of writing give the same bytes, escaping values (text and URLs whether
    /// they need it or not) but not keys.
    #[test]
    fn written_straight_or_through_serde_the_json_is_the_same() {
        // Each needs escaping for one reason of its own.
        let leaf = |x, label| Point {
            x,
            label,
            inner: None,
            around: Vec::new(),
        };
        let point = Point {
            x: -3,
            label: "é\u{7f}plain",
            inner: Some(Box::new(leaf(1, "a \"quoted\" label"))),
            around: vec![leaf(2, "back\\slash"), leaf(3, "new\nline")],
        };
        let mut raw = Vec::new();
        write_entity(&mut raw, &point).unwrap();
        let serde = serde_json::to_vec(&Via(&point)).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            String::from_utf8(serde).unwrap()
        );
        let value: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&Via(&point)).unwrap()).unwrap();
        assert_eq!(value["around"][1]["label"], "new\nline");
        assert_eq!(value["inner"]["inner"], serde_json::Value::Null);
        assert_eq!(value["url"], "https://x.example/@é\u{7f}plain");
        assert_eq!(
            value["inner"]["url"],
            "https://x.example/@a \"quoted\" label"
        );
    }
}
