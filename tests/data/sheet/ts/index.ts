import type { Shape } from "./shapes.js";
import { area } from "./shapes";

export interface Named {
  name: string;
  greet(other: Named): string;
}

export type Id = string | number;

export enum Color { Red, Green }

export abstract class Base<T> implements Named {
  name = "";
  greet(other: Named): string { return other.name; }
  abstract size(): number;
}

export function total(shapes: Shape[]): number {
  return shapes.reduce((a, s) => a + area(s), 0);
}

namespace Geometry {
  export function origin(): number { return 0; }
}
