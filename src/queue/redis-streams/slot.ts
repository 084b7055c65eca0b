/**
 * Redis Cluster's key → slot mapping (CRC16-CCITT/XMODEM of the hash tag, modulo 16384), so the
 * shard layout can choose tags by the slot they land in without asking a server. `slot.test.ts`
 * checks it against a server's CLUSTER KEYSLOT.
 */
export const SLOTS = 16_384

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[byte] = crc
  }
  return table
})()

function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!
  return crc
}

/** The slot of a key, honouring a `{hash tag}` as Redis does (first `{`, then the first `}` after it, non-empty). */
export function keySlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(Buffer.from(key, 'utf8')) % SLOTS
}
