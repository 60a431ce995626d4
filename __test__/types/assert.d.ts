// Type-level assertions for the fixtures (a global script: no imports).
//
//   expectType<Same<typeof value, Expected>>();
//
// fails to compile unless `value`'s type and `Expected` are assignable to each
// other and neither is `any` (so a declaration that degrades to `any` fails).

type IsAny<T> = 0 extends 1 & T ? true : false;

type Same<A, B> =
  IsAny<A> extends true
    ? IsAny<B>
    : IsAny<B> extends true
      ? false
      : [A] extends [B]
        ? [B] extends [A]
          ? true
          : false
        : false;

declare function expectType<T extends true>(): void;
