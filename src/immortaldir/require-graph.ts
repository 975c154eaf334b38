// `require:` across the services of one directory: which names are unknown, which services
// sit on a cycle (neither may start), and the order to stop them in (dependents first).

export type RequireGraph = Map<string, string[]>;

/** An error per service that cannot be ordered: an unknown name, or a cycle through it. */
export function requireErrors(graph: RequireGraph): Map<string, string> {
  const errors = new Map<string, string>();
  for (const [name, required] of graph) {
    const unknown = required.filter((r) => !graph.has(r));
    if (unknown.length > 0) errors.set(name, `require: unknown service ${unknown.join(', ')}`);
  }
  for (const name of graph.keys()) {
    const cycle = cycleThrough(graph, name);
    if (cycle && !errors.has(name)) errors.set(name, `require: cycle ${cycle.join(' \u2192 ')}`);
  }
  return errors;
}

/** A path name → … → name when name requires itself through the graph, else undefined. */
function cycleThrough(graph: RequireGraph, start: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (name: string, trail: string[]): string[] | undefined => {
    for (const next of graph.get(name) ?? []) {
      if (next === start) return [...trail, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...trail, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

/**
 * Groups to stop one after the other: first the services nothing else requires, then
 * those only they required, and so on; whatever is left on a cycle goes last, together.
 */
export function stopWaves(graph: RequireGraph): string[][] {
  const remaining = new Set(graph.keys());
  const waves: string[][] = [];
  while (remaining.size > 0) {
    const required = new Set<string>();
    for (const name of remaining) for (const r of graph.get(name) ?? []) required.add(r);
    const wave = [...remaining].filter((name) => !required.has(name));
    const next = wave.length > 0 ? wave : [...remaining];
    next.forEach((name) => remaining.delete(name));
    waves.push(next);
  }
  return waves;
}
