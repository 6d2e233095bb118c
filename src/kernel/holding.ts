// A kernel lock held by the addon, as a Holding.
import { withPath } from '../errors';
import type { Holding } from '../holding';
import type { Binding, NativeHandle } from '../addon/binding';
import { formatPid } from '../file/pid-text';

export class KernelHolding implements Holding {
  readonly mode = 'kernel' as const;
  readonly #native: Binding;
  readonly #handle: NativeHandle;
  readonly #path: string;
  readonly #removeOnRelease: boolean;

  constructor(native: Binding, handle: NativeHandle, path: string, removeOnRelease: boolean) {
    this.#native = native;
    this.#handle = handle;
    this.#path = path;
    this.#removeOnRelease = removeOnRelease;
  }

  release(): void {
    try {
      this.#native.unlock(this.#handle, this.#removeOnRelease);
    } catch (error) {
      throw withPath(error, this.#path);
    }
  }

  verify(): boolean {
    try {
      return this.#native.verify(this.#handle);
    } catch (error) {
      throw withPath(error, this.#path);
    }
  }

  recordPid(pid: number): void {
    try {
      this.#native.rewrite(this.#handle, formatPid(pid));
    } catch (error) {
      throw withPath(error, this.#path);
    }
  }

  keepAtExit(keep: boolean): void {
    this.#native.keepAtExit(this.#handle, keep);
  }

  descriptor(): number | null {
    const fd = this.#native.descriptor(this.#handle);
    return fd < 0 ? null : fd;
  }
}
