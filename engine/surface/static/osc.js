// OSC 1.0 packets in the browser: what the page sends over the WebSocket and what it receives.
// Only the types netblend uses are written (f, i, s, T, F, and no argument for impulses);
// incoming packets may be messages or bundles with any of f, i, s, T, F, N, I, d, h, b.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function paddedString(text) {
  const bytes = encoder.encode(text);
  const out = new Uint8Array((bytes.length + 4) & ~3); // at least one NUL, then a 4-byte boundary
  out.set(bytes);
  return out;
}

// args: [[tag, value], ...] with tag one of "f", "i", "s", "T", "F".
export function encodeMessage(address, args = []) {
  const parts = [paddedString(address), paddedString("," + args.map(([tag]) => tag).join(""))];
  for (const [tag, value] of args) {
    if (tag === "f" || tag === "i") {
      const buffer = new ArrayBuffer(4);
      const view = new DataView(buffer);
      if (tag === "f") view.setFloat32(0, value); else view.setInt32(0, value);
      parts.push(new Uint8Array(buffer));
    } else if (tag === "s") {
      parts.push(paddedString(String(value)));
    }
  }
  const size = parts.reduce((n, p) => n + p.length, 0);
  const packet = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) { packet.set(part, offset); offset += part.length; }
  return packet.buffer;
}

function readString(view, offset) {
  let end = offset;
  while (end < view.byteLength && view.getUint8(end) !== 0) end += 1;
  const text = decoder.decode(new Uint8Array(view.buffer, view.byteOffset + offset, end - offset));
  return [text, (end + 4) & ~3];
}

function decodeMessage(view) {
  let [address, offset] = readString(view, 0);
  let tags = ",";
  if (offset < view.byteLength) [tags, offset] = readString(view, offset);
  const args = [];
  for (const tag of tags.slice(1)) {
    if (tag === "f") { args.push(view.getFloat32(offset)); offset += 4; }
    else if (tag === "i") { args.push(view.getInt32(offset)); offset += 4; }
    else if (tag === "d") { args.push(view.getFloat64(offset)); offset += 8; }
    else if (tag === "h") { args.push(Number(view.getBigInt64(offset))); offset += 8; }
    else if (tag === "s" || tag === "S") { let s; [s, offset] = readString(view, offset); args.push(s); }
    else if (tag === "b") { const n = view.getInt32(offset); offset += 4 + ((n + 3) & ~3); args.push(null); }
    else if (tag === "T") args.push(true);
    else if (tag === "F") args.push(false);
    else if (tag === "N" || tag === "I") args.push(null);
  }
  return { address, args };
}

// Returns every message of a packet (bundles unwrapped); an unreadable packet gives [].
export function decodePacket(buffer) {
  const view = buffer instanceof DataView ? buffer : new DataView(buffer);
  try {
    if (view.byteLength >= 16 && view.getUint8(0) === 0x23) { // "#bundle"
      const out = [];
      let offset = 16;
      while (offset + 4 <= view.byteLength) {
        const size = view.getInt32(offset);
        if (size <= 0 || offset + 4 + size > view.byteLength) break;
        out.push(...decodePacket(new DataView(view.buffer, view.byteOffset + offset + 4, size)));
        offset += 4 + size;
      }
      return out;
    }
    return view.byteLength && view.getUint8(0) === 0x2f ? [decodeMessage(view)] : [];
  } catch (error) {
    return [];
  }
}
