// A set of znode paths with a small integer each, keyed by the path's bytes as they lie in a file:
// what a counting replay of millions of txns needs, without a string made and hashed per txn. Paths
// are compared byte for byte (exact: no hash collision is ever taken for a match); the table is open
// addressing with linear probing over one Int32Array (hash, arena offset, length, value per slot),
// and the paths' bytes sit in one growing arena. Removed paths leave tombstones that the next resize
// drops; their bytes stay in the arena until then.

const EMPTY = -1;
const REMOVED = -2;
const SLOT = 4;
const MIN_BITS = 10;

/** FNV-1a over `buf[start, end)`, never 0. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h | 1;
}

function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}

export class PathTable {
  private slots = new Int32Array(0);
  private mask = 0;
  private arena: Buffer = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private live = 0;
  private removed = 0;

  /** `hash` is FNV-1a; a test may give a poor one, to make every lookup go through collisions. */
  constructor(private readonly hash: (buf: Uint8Array, start: number, end: number) => number = hashBytes) {
    this.resize(MIN_BITS);
  }

  get size(): number {
    return this.live;
  }

  /** The value of the path `buf[start, end)`, or -1 when it is not in the table. */
  get(buf: Uint8Array, start: number, end: number): number {
    const i = this.find(buf, start, end, this.hash(buf, start, end));
    return i < 0 ? -1 : this.slots[i * SLOT + 3];
  }

  has(buf: Uint8Array, start: number, end: number): boolean {
    return this.find(buf, start, end, this.hash(buf, start, end)) >= 0;
  }

  /** Sets the path's value (a non-negative int32), adding the path when it is new. */
  set(buf: Uint8Array, start: number, end: number, value: number): void {
    const h = this.hash(buf, start, end);
    const found = this.find(buf, start, end, h);
    if (found >= 0) {
      this.slots[found * SLOT + 3] = value;
      return;
    }
    const n = end - start;
    if (this.used + n > this.arena.length) this.growArena(n);
    this.arena.set(buf.subarray(start, end), this.used);
    const k = ~found * SLOT;
    if (this.slots[k + 1] === REMOVED) this.removed--;
    this.slots[k] = h;
    this.slots[k + 1] = this.used;
    this.slots[k + 2] = n;
    this.slots[k + 3] = value;
    this.used += n;
    this.live++;
    if ((this.live + this.removed) * 2 > this.mask) this.resize(this.live * 4 > this.mask ? this.bits() + 1 : this.bits());
  }

  /** Removes the path; false when it was not there. */
  delete(buf: Uint8Array, start: number, end: number): boolean {
    const i = this.find(buf, start, end, this.hash(buf, start, end));
    if (i < 0) return false;
    this.slots[i * SLOT + 1] = REMOVED;
    this.live--;
    this.removed++;
    return true;
  }

  /** Calls `visit` with each path's bytes (a view valid during the call) and value. */
  forEach(visit: (bytes: Buffer, value: number) => void): void {
    const s = this.slots;
    for (let k = 0; k < s.length; k += SLOT) {
      const off = s[k + 1];
      if (off >= 0) visit(this.arena.subarray(off, off + s[k + 2]), s[k + 3]);
    }
  }

  /** The slot holding the path, or the bitwise complement of the free slot where it would go. */
  private find(buf: Uint8Array, start: number, end: number, h: number): number {
    const s = this.slots;
    const n = end - start;
    let reuse = -1;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const k = i * SLOT;
      const off = s[k + 1];
      if (off === EMPTY) return ~(reuse >= 0 ? reuse : i);
      if (off === REMOVED) {
        if (reuse < 0) reuse = i;
      } else if (s[k] === h && s[k + 2] === n && sameBytes(this.arena, off, buf, start, n)) return i;
    }
  }

  private bits(): number {
    return Math.log2(this.mask + 1);
  }

  private growArena(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + need));
    this.arena.copy(next, 0, 0, this.used);
    this.arena = next;
  }

  /** Rebuilds the slots at 2^bits, dropping tombstones; the arena is compacted when half of it is dead. */
  private resize(bits: number): void {
    const old = this.slots;
    this.slots = new Int32Array(SLOT << bits).fill(EMPTY);
    this.mask = (1 << bits) - 1;
    this.removed = 0;
    let arena = this.arena;
    let compact = false;
    if (this.used > 2 * this.liveBytes(old)) {
      compact = true;
      arena = Buffer.allocUnsafe(Math.max(1 << 16, this.arena.length));
      this.used = 0;
    }
    const s = this.slots;
    for (let j = 0; j < old.length; j += SLOT) {
      let off = old[j + 1];
      if (off < 0) continue;
      const n = old[j + 2];
      if (compact) {
        this.arena.copy(arena, this.used, off, off + n);
        off = this.used;
        this.used += n;
      }
      let i = old[j] & this.mask;
      while (s[i * SLOT + 1] !== EMPTY) i = (i + 1) & this.mask;
      const k = i * SLOT;
      s[k] = old[j];
      s[k + 1] = off;
      s[k + 2] = n;
      s[k + 3] = old[j + 3];
    }
    this.arena = arena;
  }

  private liveBytes(slots: Int32Array): number {
    let total = 0;
    for (let k = 0; k < slots.length; k += SLOT) if (slots[k + 1] >= 0) total += slots[k + 2];
    return total;
  }
}
