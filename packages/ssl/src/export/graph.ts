// An ONNX graph under construction, and its serialization with onnx-proto (the official
// onnx.proto compiled by protobufjs). libtorch has no ONNX exporter, so Pretext writes the
// graph itself from its module tree: nodes are appended in execution order, weights become
// initializers named by their state-dict keys, and the model declares opset 17.
import onnxProto from 'onnx-proto';
import type { Tensor } from '@pretext/torch';

const { onnx } = onnxProto;

export const OPSET = 17;
/** ONNX IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
const IR_VERSION = 8;

/** A module or graph that cannot be written as ONNX; names the module. */
export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

export type ElemType = 'float32' | 'int64' | 'bool';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export interface ValueInfo {
  name: string;
  type: ElemType;
  /** Fixed sizes as numbers, named (dynamic) axes as strings. */
  shape: (number | string)[];
}

export type AttrValue = number | number[] | string | { floats: number[] } | { float: number };

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new OnnxExportError(`attribute ${name}: ${v} is not an integer; pass { float } for floats`);
    return { name, type: T.INT, i: v };
  }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.FLOAT, f: v.float };
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers = new Map<string, onnxProto.onnx.ITensorProto>();
  private readonly used = new Set<string>();
  private count = 0;

  /** A value name not used before, from a readable hint. */
  fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.count}`;
    this.used.add(name);
    return name;
  }

  /** A float32 initializer from an engine tensor (its state-dict key as the name); added once per name. */
  weight(name: string, t: Tensor): string {
    if (this.initializers.has(name)) return name;
    const f = t.dtype === 'float32' ? t : t.to('float32');
    return this.floats(name, f.data() as Float32Array, f.shape);
  }

  /** A float32 initializer from values. */
  floats(hint: string, values: Float32Array | number[], dims: number[]): string {
    const name = this.fresh(hint);
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.initializers.set(name, { name, dims, dataType: ELEM.float32, rawData: bytesOf(data) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices). */
  int64s(hint: string, values: number[], dims: number[] = [values.length]): string {
    if (dims.reduce((a, b) => a * b, 1) !== values.length)
      throw new OnnxExportError(`${hint}: ${values.length} values for shape [${dims.join(', ')}]`);
    const name = this.fresh(hint);
    this.initializers.set(name, { name, dims, dataType: ELEM.int64, rawData: bytesOf(BigInt64Array.from(values, BigInt)) });
    return name;
  }

  /** Appends a node with one output and returns the output's name. */
  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint = type.toLowerCase()): string {
    return this.opN(type, inputs, 1, attrs, hint)[0]!;
  }

  /** Appends a node whose output has the fixed name `out` (graph outputs). */
  opNamed(type: string, inputs: string[], out: string, attrs: Record<string, AttrValue> = {}): string {
    if (this.used.has(out)) throw new OnnxExportError(`the value name '${out}' is taken`);
    this.used.add(out);
    this.nodes.push({
      opType: type,
      name: this.fresh(`${out}_node`),
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** Appends a node with `outputs` outputs. */
  opN(type: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}, hint = type.toLowerCase()): string[] {
    const out = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? hint : `${hint}_out${i}`));
    this.nodes.push({
      opType: type,
      name: this.fresh(`${hint}_node`),
      input: inputs,
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** The serialized ModelProto. The graph's last node must produce `outputs`' names (rename with Identity). */
  serialize(o: {
    name: string;
    inputs: ValueInfo[];
    outputs: ValueInfo[];
    metadata: Record<string, string>;
    producerVersion: string;
    docString?: string;
  }): Uint8Array {
    const info = (v: ValueInfo): onnxProto.onnx.IValueInfoProto => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: ELEM[v.type],
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const model: onnxProto.onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'pretext',
      producerVersion: o.producerVersion,
      docString: o.docString ?? '',
      graph: {
        name: o.name,
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: o.inputs.map(info),
        output: o.outputs.map(info),
      },
      metadataProps: Object.entries(o.metadata).map(([key, value]) => ({ key, value })),
    };
    const err = onnx.ModelProto.verify(model);
    if (err) throw new OnnxExportError(`the ONNX model does not match onnx.proto: ${err}`);
    return onnx.ModelProto.encode(model).finish();
  }

  get nodeCount(): number {
    return this.nodes.length;
  }
}

/** The model's metadata_props and opset, read back from serialized bytes (for checks and the CLI). */
export function readOnnxSummary(bytes: Uint8Array): {
  opset: number;
  metadata: Record<string, string>;
  nodes: number;
  initializers: number;
  inputs: string[];
  outputs: string[];
} {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph;
  return {
    opset: Number(m.opsetImport.find((o) => !o.domain)?.version ?? 0),
    metadata: Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value])),
    nodes: g?.node?.length ?? 0,
    initializers: g?.initializer?.length ?? 0,
    inputs: (g?.input ?? []).map((i) => i.name ?? ''),
    outputs: (g?.output ?? []).map((i) => i.name ?? ''),
  };
}
