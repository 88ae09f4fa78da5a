/**
 * The part of the WebAssembly JS API that deepscale's own kernels use. Node has all of it; the
 * TypeScript declarations live in lib.dom, which this project does not load (it is not a browser
 * project), so the used subset is declared here.
 */
declare namespace WebAssembly {
  interface Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  type Imports = Record<string, Record<string, unknown>>;
  const Module: { new (bytes: Uint8Array): Module };
  const Instance: { new (module: Module, imports?: Imports): Instance };
  const Memory: { new (descriptor: MemoryDescriptor): Memory };
  function validate(bytes: Uint8Array): boolean;
}
