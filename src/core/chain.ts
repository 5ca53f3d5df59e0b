// A physical backup's place in its chain (full backup, then incrementals), as its manifest records
// it in `extra.chain`: the one reader of that field for list, prune and the physical-manifest reader.

export interface ChainLink {
  /** The full backup the chain starts from. */
  base: string;
  /** The backup this one continues; null for a full backup. */
  parent: string | null;
  depth: number;
}

/** The chain link of a physical backup when its manifest records a well-formed one, else null. */
export function chainLinkOf(kind: string, extra: Record<string, unknown> | undefined): ChainLink | null {
  if (kind !== 'physical') return null;
  const c = extra?.chain as Partial<ChainLink> | undefined;
  if (
    !c ||
    typeof c !== 'object' ||
    typeof c.base !== 'string' ||
    !(c.parent === null || typeof c.parent === 'string') ||
    typeof c.depth !== 'number'
  ) {
    return null;
  }
  return { base: c.base, parent: c.parent, depth: c.depth };
}
