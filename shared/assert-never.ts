// Exhaustiveness check for switches over message unions: a variant no case handles is a
// type error at the call, and a value outside the union at run time throws.

/** Call in the `default` branch of a switch that must handle every variant. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
