/**
 * FNV-1a over a string's UTF-16 code units, in independent 32-bit lanes (each lane starts
 * from its own offset basis). Fast and allocation-light; for values that need an input to
 * map to the same output every time, not collision resistance against an attacker (a
 * derived nonce seed, whose integrity an HMAC protects; a loop-detection hash, where a crafted
 * collision only makes the crafter's own request look looped).
 */
export function fnvLanes(text: string, lanes: number): Uint32Array {
  const out = new Uint32Array(lanes);
  for (let lane = 0; lane < lanes; lane++) {
    let h = (0x811c9dc5 ^ Math.imul(lane, 0x9e3779b9)) >>> 0;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    // A final avalanche so that near inputs differ in every byte.
    out[lane] = avalanche(h);
  }
  return out;
}

function avalanche(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * Two lanes of {@link fnvLanes} (the same values, in one pass over the text) as 12 base-36
 * characters: a token-safe ~62-bit digest.
 */
export function fnvText64(text: string): string {
  let a = 0x811c9dc5;
  let b = (0x811c9dc5 ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (
    avalanche(a).toString(36).padStart(7, '0').slice(-6) +
    avalanche(b).toString(36).padStart(7, '0').slice(-6)
  );
}
