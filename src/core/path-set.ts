// A set of znode paths in a few bytes each: 64 bits of hash per path, open addressing in typed arrays,
// so that a restore of millions of nodes can ask "is this path in the backup?" without holding the
// paths. Two different paths share a hash with odds near n²/2⁶⁵ (about 1 in 36 million for a million
// paths); a caller uses it only where such a collision errs on the safe side (a node kept, not lost).

/** Two independent 32-bit FNV-1a style hashes of the UTF-16 code units. */
function hashPair(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  // (0, 0) marks an empty slot.
  if (a === 0 && b === 0) b = 1;
  return [a >>> 0, b >>> 0];
}

export class PathSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private count = 0;

  constructor(capacity = 1024) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
  }

  get size(): number {
    return this.count;
  }

  has(path: string): boolean {
    const [a, b] = hashPair(path);
    const mask = this.hi.length - 1;
    for (let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      if (this.hi[i] === 0 && this.lo[i] === 0) return false;
      if (this.hi[i] === a && this.lo[i] === b) return true;
    }
  }

  add(path: string): void {
    const [a, b] = hashPair(path);
    if (this.insert(a, b)) {
      this.count++;
      if (this.count * 2 > this.hi.length) this.grow();
    }
  }

  private insert(a: number, b: number): boolean {
    const mask = this.hi.length - 1;
    for (let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      if (this.hi[i] === 0 && this.lo[i] === 0) {
        this.hi[i] = a;
        this.lo[i] = b;
        return true;
      }
      if (this.hi[i] === a && this.lo[i] === b) return false;
    }
  }

  private grow(): void {
    const { hi, lo } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    for (let i = 0; i < hi.length; i++) if (hi[i] !== 0 || lo[i] !== 0) this.insert(hi[i], lo[i]);
  }
}
