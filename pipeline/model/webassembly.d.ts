/**
 * The part of the WebAssembly JavaScript API that ./score-kernel.ts uses. Node has had it since
 * v8, but @types/node declares it only from v22 and this project's lib (ES2023, no DOM) not at all.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, Memory>>);
    readonly exports: Record<string, unknown>;
  }
}
