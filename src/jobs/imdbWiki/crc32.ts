// CRC-32 (ISO-HDLC: zlib's, gzip's, PNG's) for the checkpoint's record frames. node:zlib has crc32 only
// from Node 20.15, and the project runs on 20.9 (sharp's floor); this gives the same numbers, so
// checkpoints written by either read with the other.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
