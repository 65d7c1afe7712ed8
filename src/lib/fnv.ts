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
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    out[lane] = h >>> 0;
  }
  return out;
}

/** Two lanes of {@link fnvLanes} as 12 base-36 characters (a token-safe ~62-bit digest). */
export function fnvText64(text: string): string {
  const [a = 0, b = 0] = fnvLanes(text, 2);
  return a.toString(36).padStart(7, '0').slice(-6) + b.toString(36).padStart(7, '0').slice(-6);
}
