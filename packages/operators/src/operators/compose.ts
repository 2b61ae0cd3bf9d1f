import { type Operator, type Shape, type Tensor, TweedieError } from "@tweedie/core";
import { deepFreeze } from "../freeze.js";
import type { ComposeSpec } from "../spec.js";

/**
 * Stages applied in order: A = A_n o ... o A_1, with stage k + 1 built for the output
 * shape of stage k. Linear when every stage is; then A^T = A_1^T ... A_n^T. The VJP
 * chains the stages' VJPs (adjoints for linear stages) at the intermediate points. A
 * composition has no pseudo-inverse, because (A_2 A_1)^+ differs from A_1^+ A_2^+ in
 * general.
 */
export class ComposeOperator implements Operator {
  readonly spec: ComposeSpec;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  readonly linear: boolean;
  readonly adjoint?: (y: Tensor) => Tensor;

  constructor(readonly stages: readonly Operator[]) {
    if (stages.length === 0) {
      throw new TweedieError("a composition needs at least one operator", {
        code: "missing",
        path: ["operators"],
        expected: "one or more operator specs",
      });
    }
    const operators = stages.map((stage) => stage.spec) as unknown as ComposeSpec["operators"];
    this.spec = deepFreeze({ kind: "compose", operators });
    this.inputShape = stages[0].inputShape;
    this.outputShape = stages[stages.length - 1].outputShape;
    this.linear = stages.every((stage) => stage.linear && stage.adjoint !== undefined);
    if (this.linear) {
      this.adjoint = (y: Tensor) => {
        let out = y;
        for (let k = stages.length - 1; k >= 0; k--) out = stages[k].adjoint!(out);
        return out;
      };
    }
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    let out = x;
    for (const stage of this.stages) out = stage.forward(out);
    return out;
  }

  vjp(x: Tensor, g: Tensor): Tensor {
    const points: Tensor[] = [x];
    for (let k = 0; k < this.stages.length - 1; k++) points.push(this.stages[k].forward(points[k]));
    let out = g;
    for (let k = this.stages.length - 1; k >= 0; k--)
      out = stageVjp(this.stages[k], points[k], out);
    return out;
  }
}

function stageVjp(stage: Operator, x: Tensor, g: Tensor): Tensor {
  if (stage.linear && stage.adjoint) return stage.adjoint(g);
  if (stage.vjp) return stage.vjp(x, g);
  throw new TweedieError(`operator ${stage.spec.kind} has neither an adjoint nor a vjp`, {
    code: "unsupported",
    path: ["operators"],
    received: stage.spec.kind,
  });
}
