/**
 * Seeing backprop: the computational graph as data (`trace`), as a picture (`toDot`, `toSvg`)
 * and as the lecture's step-by-step explanation (`explain`), plus a small expression language
 * for the lecture's circuits (`parseExpression`, `buildExpression`). Browser-safe; PNG output
 * (`toPng`) is in "chainrule/node". See docs/viz.md.
 */
export { trace, TRACE_FORMAT, type TraceGraph, type TraceNode, type TraceEdge, type TraceValue, type TraceScope, type TraceOptions } from "./trace.js";
export { toDot, FORWARD_COLOR, GRADIENT_COLOR, type DotOptions } from "./dot.js";
export { toSvg, renderDot } from "./svg.js";
export { explain, type ExplainOptions } from "./explain.js";
export {
  parseExpression,
  buildExpression,
  ExpressionError,
  FUNCTIONS,
  type Expression,
  type ExprNode,
  type FunctionName,
  type ParseOptions,
  type BuildOptions,
  type BuiltExpression,
} from "./expr.js";
export { withGraphValues, isGraphValuesEnabled, scope } from "../autograd/mode.js";
