/** Freeze an object graph so nothing handed to a reader can be mutated behind the writer's back. */
export function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) freezeGraph(o);
  return o;
}

// Every snapshot commit walks the whole fresh part of the snapshot: primitives and already-frozen
// parts (the cached raw-row arrays, the rule-set constants) are skipped without a call.
function freezeGraph(o: object): void {
  Object.freeze(o);
  const values: unknown[] = Array.isArray(o) ? o : Object.values(o);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) freezeGraph(v);
  }
}
