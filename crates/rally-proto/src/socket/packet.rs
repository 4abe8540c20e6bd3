use crate::{DecodeError, Str, engine::Frame};

use super::Decoder;

/// The seven Socket.IO packet types, by their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client), or the namespace accepted the client (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event: a JSON array, the event name first.
    Event = 2,
    /// `3`: the answer to an event that asked for one, by its ack id.
    Ack = 3,
    /// `4`: the namespace refused the client.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an ack with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The packet type of a wire digit (`b'0'` to `b'6'`).
    ///
    /// ```
    /// use rally_proto::socket::PacketType;
    ///
    /// assert_eq!(PacketType::from_digit(b'2'), Some(PacketType::Event));
    /// assert_eq!(PacketType::from_digit(b'7'), None);
    /// ```
    #[must_use]
    pub const fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this packet type.
    #[must_use]
    pub const fn as_digit(self) -> u8 {
        b'0' + self as u8
    }

    /// Whether packets of this type carry binary attachments
    /// ([`BinaryEvent`](Self::BinaryEvent) and [`BinaryAck`](Self::BinaryAck)).
    #[must_use]
    pub const fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A Socket.IO packet, its JSON payload kept as raw text.
///
/// Text form: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`,
/// the namespace left out when it is `/`. Decoding keeps the namespace and the
/// payload as slices of the input; nothing is copied and no JSON tree is built.
///
/// ```
/// use rally_proto::socket::{Packet, PacketType};
///
/// let packet = Packet::decode("2/admin,13[\"ping\"]".into()).unwrap();
/// assert_eq!(packet.kind, PacketType::Event);
/// assert_eq!(packet.nsp, "/admin");
/// assert_eq!(packet.id, Some(13));
/// assert_eq!(packet.data.as_deref(), Some("[\"ping\"]"));
/// assert_eq!(packet.encode(), "2/admin,13[\"ping\"]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, such as `/` or `/admin`.
    pub nsp: Str,
    /// The ack id: an event that wants an answer, or the ack that answers it.
    pub id: Option<u64>,
    /// How many binary attachments follow (binary types only; else `0`).
    pub attachments: usize,
    /// The JSON payload as raw text, if any.
    pub data: Option<Str>,
}

impl Packet {
    /// A packet of `kind` for namespace `nsp`, with no id, attachment or data.
    ///
    /// ```
    /// use rally_proto::socket::{Packet, PacketType};
    ///
    /// let ack = Packet::new(PacketType::Ack, "/custom".into())
    ///     .with_id(3)
    ///     .with_data(r#"["c"]"#.into());
    /// assert_eq!(ack.encode(), r#"3/custom,3["c"]"#);
    /// ```
    #[must_use]
    pub fn new(kind: PacketType, nsp: Str) -> Self {
        Self {
            kind,
            nsp,
            id: None,
            attachments: 0,
            data: None,
        }
    }

    /// This packet with ack id `id`.
    #[must_use]
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// This packet with the raw JSON payload `data`.
    ///
    /// `data` must be one valid JSON value: it is written as it is.
    #[must_use]
    pub fn with_data(mut self, data: Str) -> Self {
        self.data = Some(data);
        self
    }

    /// Decodes a packet (the text of an Engine.IO message) with the default
    /// limits; see [`Decoder::decode`] for the rules.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for any text the reference parser rejects.
    pub fn decode(text: Str) -> Result<Self, DecodeError> {
        Decoder::new().decode(text)
    }

    /// The text form of this packet, exactly as the reference encodes it.
    ///
    /// ```
    /// use rally_proto::socket::{Packet, PacketType};
    ///
    /// let p = Packet::new(PacketType::Connect, "/admin".into()).with_data(r#"{"sid":"x"}"#.into());
    /// assert_eq!(p.encode(), r#"0/admin,{"sid":"x"}"#);
    /// ```
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        self.write(&mut out);
        out
    }

    /// The Engine.IO message frame of this packet (`4` followed by the text
    /// form), built in one buffer: encode a broadcast once, then clone the
    /// frame for every recipient.
    ///
    /// Only the text part: attachments go in their own frames (see
    /// [`BinaryPacket::to_engine_frames`](super::BinaryPacket::to_engine_frames)).
    ///
    /// ```
    /// use rally_proto::{engine::Frame, socket::{Packet, PacketType}};
    ///
    /// let p = Packet::new(PacketType::Event, "/".into()).with_data(r#"["chat","hi"]"#.into());
    /// assert_eq!(p.to_engine_frame(), Frame::Text(r#"42["chat","hi"]"#.into()));
    /// ```
    #[must_use]
    pub fn to_engine_frame(&self) -> Frame {
        let mut out = String::with_capacity(self.encoded_len() + 1);
        out.push('4');
        self.write(&mut out);
        Frame::Text(Str::from(out))
    }

    /// Everything before the data.
    fn head(&self) -> Head<'_> {
        Head {
            kind: self.kind,
            attachments: self.attachments,
            nsp: &self.nsp,
            id: self.id,
        }
    }

    /// The exact length of the text form.
    fn encoded_len(&self) -> usize {
        self.head().len() + self.data.as_ref().map_or(0, |d| d.len())
    }

    /// Appends the text form to `out`.
    fn write(&self, out: &mut String) {
        self.head().write(out);
        if let Some(data) = &self.data {
            out.push_str(data);
        }
    }
}

/// The Engine.IO text frame of a packet given by its parts, its data given
/// in pieces written one after the other: what
/// [`Packet::to_engine_frame`] makes, in one allocation, without building
/// the packet or joining its data first.
///
/// `attachments` is the number of binary attachments; it is written only
/// for the binary types.
///
/// ```
/// use rally_proto::{engine::Frame, socket::{PacketType, frame_of}};
///
/// let frame = frame_of(PacketType::Ack, "/chat", Some(7), 0, &["[", r#"{"ok":true}"#, "]"]);
/// assert_eq!(frame, Frame::Text(r#"43/chat,7[{"ok":true}]"#.into()));
/// ```
#[must_use]
pub fn frame_of(
    kind: PacketType,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
    data: &[&str],
) -> Frame {
    let head = Head {
        kind,
        attachments,
        nsp,
        id,
    };
    let mut out =
        String::with_capacity(1 + head.len() + data.iter().map(|d| d.len()).sum::<usize>());
    out.push('4');
    head.write(&mut out);
    for piece in data {
        out.push_str(piece);
    }
    Frame::Text(Str::from(out))
}

/// The part of a packet's text form before its data.
struct Head<'a> {
    kind: PacketType,
    attachments: usize,
    nsp: &'a str,
    id: Option<u64>,
}

impl Head<'_> {
    /// Whether the namespace is written on the wire (anything but `/` or empty).
    fn has_nsp(&self) -> bool {
        !self.nsp.is_empty() && self.nsp != "/"
    }

    fn len(&self) -> usize {
        let mut len = 1;
        if self.kind.is_binary() {
            len += decimal_len(self.attachments as u64) + 1;
        }
        if self.has_nsp() {
            len += self.nsp.len() + 1;
        }
        if let Some(id) = self.id {
            len += decimal_len(id);
        }
        len
    }

    fn write(&self, out: &mut String) {
        out.push(char::from(self.kind.as_digit()));
        if self.kind.is_binary() {
            push_decimal(out, self.attachments as u64);
            out.push('-');
        }
        if self.has_nsp() {
            out.push_str(self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            push_decimal(out, id);
        }
    }
}

/// The number of decimal digits of `n`.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// Appends the decimal digits of `n` to `out`.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            // `n % 10` is below 10.
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    for &d in digits.get(start..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: PacketType, nsp: &str) -> Packet {
        Packet::new(kind, Str::from(nsp))
    }

    #[test]
    fn digits_round_trip() {
        for d in b'0'..=b'6' {
            assert_eq!(PacketType::from_digit(d).map(PacketType::as_digit), Some(d));
        }
        assert_eq!(PacketType::from_digit(b'7'), None);
    }

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
            assert_eq!(decimal_len(n), s.len());
        }
    }

    #[test]
    fn encodes_like_the_reference() {
        let event = |nsp| packet(PacketType::Event, nsp);
        assert_eq!(
            event("/admin")
                .with_id(13)
                .with_data(r#"["ping"]"#.into())
                .encode(),
            r#"2/admin,13["ping"]"#
        );
        assert_eq!(
            packet(PacketType::Ack, "/admin")
                .with_id(13)
                .with_data(r#"[{"ok":true}]"#.into())
                .encode(),
            r#"3/admin,13[{"ok":true}]"#
        );
        assert_eq!(
            packet(PacketType::Connect, "/admin")
                .with_data(r#"{"sid":"x"}"#.into())
                .encode(),
            r#"0/admin,{"sid":"x"}"#
        );
        assert_eq!(
            packet(PacketType::Ack, "/custom")
                .with_id(3)
                .with_data(r#"["c"]"#.into())
                .encode(),
            r#"3/custom,3["c"]"#
        );
        let mut binary = event("/").with_data(r#"["a",{"_placeholder":true,"num":0}]"#.into());
        binary.kind = PacketType::BinaryEvent;
        binary.attachments = 1;
        assert_eq!(binary.encode(), r#"51-["a",{"_placeholder":true,"num":0}]"#);
        // `/` and the empty namespace are left out; no data, nothing after.
        assert_eq!(packet(PacketType::Disconnect, "/").encode(), "1");
        assert_eq!(packet(PacketType::Disconnect, "").encode(), "1");
        assert_eq!(
            packet(PacketType::Disconnect, "/custom").encode(),
            "1/custom,"
        );
        assert_eq!(event("/").encode(), "2");
    }

    /// What the reference server (socket.io 4.8.4) sends, as Engine.IO frames.
    #[test]
    fn engine_frames_like_the_reference() {
        let frame = |p: Packet| p.to_engine_frame();
        let text = |s: &str| Frame::Text(s.into());
        assert_eq!(
            frame(
                packet(PacketType::Connect, "/")
                    .with_data(r#"{"sid":"WKrwtr5Sl5lw6metAAAA"}"#.into())
            ),
            text(r#"40{"sid":"WKrwtr5Sl5lw6metAAAA"}"#)
        );
        assert_eq!(
            frame(
                packet(PacketType::ConnectError, "/unknown")
                    .with_data(r#"{"message":"Invalid namespace"}"#.into())
            ),
            text(r#"44/unknown,{"message":"Invalid namespace"}"#)
        );
        assert_eq!(
            frame(
                packet(PacketType::Event, "/")
                    .with_id(0)
                    .with_data(r#"["q",0]"#.into())
            ),
            text(r#"420["q",0]"#)
        );
        assert_eq!(
            frame(
                packet(PacketType::Event, "/custom")
                    .with_id(0)
                    .with_data(r#"["q","c"]"#.into())
            ),
            text(r#"42/custom,0["q","c"]"#)
        );
        assert_eq!(
            frame(
                packet(PacketType::Ack, "/")
                    .with_id(99)
                    .with_data(r#"[{"a":[1,2]},"s",null]"#.into())
            ),
            text(r#"4399[{"a":[1,2]},"s",null]"#)
        );
        assert_eq!(frame(packet(PacketType::Disconnect, "/")), text("41"));
        assert_eq!(
            frame(packet(PacketType::Disconnect, "/custom")),
            text("41/custom,")
        );
        let mut bin_ack = packet(PacketType::BinaryAck, "/")
            .with_id(7)
            .with_data(r#"[{"_placeholder":true,"num":0}]"#.into());
        bin_ack.attachments = 1;
        assert_eq!(
            frame(bin_ack),
            text(r#"461-7[{"_placeholder":true,"num":0}]"#)
        );
        assert_eq!(
            frame(packet(PacketType::Event, "/custom").with_data(r#"["c",1,"Q80NPmg.4"]"#.into())),
            text(r#"42/custom,["c",1,"Q80NPmg.4"]"#)
        );
    }

    #[test]
    fn encoded_len_is_exact() {
        let mut p = packet(PacketType::BinaryAck, "/é")
            .with_id(u64::MAX)
            .with_data("[]".into());
        p.attachments = 10;
        assert_eq!(p.encode().len(), p.encoded_len());
        assert_eq!(p.encode().capacity(), p.encoded_len());
    }
}
