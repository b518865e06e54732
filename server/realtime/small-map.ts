/**
 * A Map that keeps its first entry in two fields and makes a real Map only for a second one.
 * Nearly every connection follows one task, and an empty JS Map costs about 180 bytes of heap;
 * per idle connection that is a measurable share of the budget (BENCHMARKS.md).
 */
export class SmallMap<K, V> {
  #key: K | undefined = undefined;
  #value: V | undefined = undefined;
  #has = false;
  #more: Map<K, V> | null = null;

  get size(): number {
    return (this.#has ? 1 : 0) + (this.#more?.size ?? 0);
  }

  get(key: K): V | undefined {
    if (this.#has && this.#key === key) return this.#value;
    return this.#more?.get(key);
  }

  has(key: K): boolean {
    return (this.#has && this.#key === key) || (this.#more?.has(key) ?? false);
  }

  set(key: K, value: V): void {
    if ((this.#has && this.#key === key) || (!this.#has && !this.#more?.has(key))) {
      this.#key = key;
      this.#value = value;
      this.#has = true;
      return;
    }
    (this.#more ??= new Map()).set(key, value);
  }

  delete(key: K): boolean {
    if (this.#has && this.#key === key) {
      this.#key = undefined;
      this.#value = undefined;
      this.#has = false;
      return true;
    }
    return this.#more?.delete(key) ?? false;
  }

  clear(): void {
    this.#key = undefined;
    this.#value = undefined;
    this.#has = false;
    this.#more = null;
  }

  keys(): K[] {
    const keys = this.#more ? [...this.#more.keys()] : [];
    if (this.#has) keys.unshift(this.#key as K);
    return keys;
  }
}
