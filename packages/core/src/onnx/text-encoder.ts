/**
 * Text conditioning through exported CLIP and T5 encoders, assembled as each pipeline
 * assembles its prompt embeddings (diffusers 0.30):
 *
 * - Stable Diffusion 1.x: CLIP's last hidden state, 77 tokens, [1, 77, 768]; no pooled.
 * - Stable Diffusion 3: CLIP-L and CLIP-G penultimate hidden states (77 tokens each)
 *   concatenated along the features (768 + 1280 = 2048), zero-padded to the T5 width
 *   (4096), followed along the sequence by the T5 last hidden state, [1, 77 + T, 4096];
 *   pooled = the two CLIP projections (`text_embeds`) concatenated, [1, 2048]. Without a
 *   T5 encoder the T5 part is zeros of the transformer's joint attention width.
 * - Flux: T5's last hidden state [1, T, 4096] and CLIP-L's `pooler_output` [1, 768].
 *
 * Encoder graphs follow Optimum's export: input `input_ids` (int32 or int64, [batch,
 * sequence]) and outputs `last_hidden_state`, `pooler_output` or `text_embeds`, and
 * `hidden_states.0` ... `hidden_states.N` when exported with hidden states.
 */
import { TweedieError } from "../errors.js";
import { Tensor } from "../tensor.js";
import type { OnnxSession } from "./adapter.js";
import { releaseSession, runSession } from "./adapter.js";
import { numberFeed, outputTensor } from "./feeds.js";
import type { TextTokenizer } from "./text-tokenizer.js";
import type { OnnxValueInfo } from "./types.js";

/** A tokenizer and the encoder graph it feeds. */
export interface TextEncoderPart {
  tokenizer: TextTokenizer;
  session: OnnxSession;
  /** Token sequence length fed to this encoder. */
  length: number;
}

export type TextConditioningKind = "sd" | "sd3" | "flux";

export interface TextEmbedding {
  embeddings: Tensor;
  pooled?: Tensor;
}

export interface TextConditionerParts {
  /** SD: the CLIP encoder. SD3: CLIP-L. Flux: CLIP-L (pooled only). */
  clip: TextEncoderPart;
  /** SD3 only: CLIP-G. */
  clip2?: TextEncoderPart;
  /** SD3 (optional) and Flux: T5. */
  t5?: TextEncoderPart;
  /** SD3 without T5: the joint attention width of the zeros that replace the T5 states. */
  jointDim?: number;
}

function missingOutput(session: OnnxSession, name: string, why: string): TweedieError {
  const names = session.outputs.map((v) => v.name).join(", ");
  return new TweedieError(`${session.label}: output ${name} not found (${why})`, {
    code: "model_mismatch",
    path: [session.label, name],
    expected: `an output named ${name}; the graph outputs are ${names}`,
    received: "no such output",
    hint: "export the text encoder with Optimum (it adds hidden_states.N when the pipeline needs them)",
  });
}

/** Finds the `input_ids` input of an encoder graph and checks its type and rank. */
export function idsInput(session: OnnxSession): OnnxValueInfo {
  const input = session.inputs.find((v) => v.name === "input_ids");
  if (input === undefined || session.inputs.length !== 1) {
    throw new TweedieError(`${session.label}: expected exactly one input, input_ids`, {
      code: "model_mismatch",
      path: [session.label, "inputs"],
      expected: "input_ids",
      received: session.inputs.map((v) => v.name).join(", "),
    });
  }
  if ((input.dtype !== "int32" && input.dtype !== "int64") || input.dims.length !== 2) {
    throw new TweedieError(
      `${session.label}: input_ids must be an int32 or int64 [batch, sequence] tensor`,
      {
        code: "model_mismatch",
        path: [session.label, "input_ids"],
        expected: "int32 or int64 of rank 2",
        received: `${input.dtype} [${input.dims.join(", ")}]`,
      },
    );
  }
  return input;
}

/** Name of the penultimate hidden state: hidden_states.(N - 1) of hidden_states.0..N. */
function penultimateName(session: OnnxSession): string {
  const count = session.outputs.filter((v) => /^hidden_states\.\d+$/.test(v.name)).length;
  if (count < 2)
    throw missingOutput(session, "hidden_states.N", "SD3 uses the penultimate hidden state");
  return `hidden_states.${count - 2}`;
}

async function runEncoder(
  part: TextEncoderPart,
  prompt: string,
  outputs: readonly string[],
): Promise<Tensor[]> {
  const { session, tokenizer, length } = part;
  for (const name of outputs) {
    if (!session.outputs.some((v) => v.name === name))
      throw missingOutput(session, name, "the pipeline reads it");
  }
  const input = idsInput(session);
  const ids = tokenizer.encode(prompt, length);
  const result = await runSession(
    session,
    { input_ids: numberFeed(ids, input.dtype, [1, length]) },
    outputs,
  );
  return outputs.map((name) => outputTensor(result[name], session.label, name));
}

/** Concatenates [1, S, A] and [1, S, B] along the last axis into [1, S, width], zero-padded. */
function concatFeatures(parts: readonly Tensor[], width: number): Tensor {
  const sequence = parts[0].shape[1];
  const out = new Float32Array(sequence * width);
  let offset = 0;
  for (const part of parts) {
    const features = part.shape[2];
    for (let s = 0; s < sequence; s++) {
      out.set(part.data.subarray(s * features, (s + 1) * features), s * width + offset);
    }
    offset += features;
  }
  return new Tensor(out, [1, sequence, width]);
}

/** Concatenates [1, S1, D] and [1, S2, D] along the sequence. */
function concatSequence(first: Tensor, second: Tensor): Tensor {
  const out = new Float32Array(first.size + second.size);
  out.set(first.data, 0);
  out.set(second.data, first.size);
  return new Tensor(out, [1, first.shape[1] + second.shape[1], first.shape[2]]);
}

function concatLast(parts: readonly Tensor[]): Tensor {
  const width = parts.reduce((sum, p) => sum + p.shape[1], 0);
  const out = new Float32Array(width);
  let offset = 0;
  for (const part of parts) {
    out.set(part.data, offset);
    offset += part.shape[1];
  }
  return new Tensor(out, [1, width]);
}

/** Encodes prompts into the embeddings a pipeline feeds its denoiser, caching each prompt. */
export class TextConditioner {
  private readonly cache = new Map<string, Promise<TextEmbedding>>();

  constructor(
    readonly kind: TextConditioningKind,
    private readonly parts: TextConditionerParts,
  ) {}

  /** Embeddings of one prompt ("" is the unconditional branch), batch 1. */
  encode(prompt: string): Promise<TextEmbedding> {
    let result = this.cache.get(prompt);
    if (result === undefined) {
      result = this.compute(prompt);
      result.catch(() => this.cache.delete(prompt));
      this.cache.set(prompt, result);
    }
    return result;
  }

  /** Releases the encoder sessions. */
  async dispose(): Promise<void> {
    for (const part of [this.parts.clip, this.parts.clip2, this.parts.t5]) {
      if (part !== undefined) await releaseSession(part.session);
    }
  }

  private async compute(prompt: string): Promise<TextEmbedding> {
    const { clip, clip2, t5 } = this.parts;

    if (this.kind === "sd") {
      const [embeddings] = await runEncoder(clip, prompt, ["last_hidden_state"]);
      return { embeddings };
    }
    if (this.kind === "flux") {
      const [pooled] = await runEncoder(clip, prompt, ["pooler_output"]);
      const [embeddings] = await runEncoder(t5 as TextEncoderPart, prompt, ["last_hidden_state"]);
      return { embeddings, pooled };
    }

    const second = clip2 as TextEncoderPart;
    const [statesL, pooledL] = await runEncoder(clip, prompt, [
      penultimateName(clip.session),
      "text_embeds",
    ]);
    const [statesG, pooledG] = await runEncoder(second, prompt, [
      penultimateName(second.session),
      "text_embeds",
    ]);
    let t5States: Tensor;
    if (t5 === undefined) {
      // diffusers' SD3 pipeline uses the CLIP tokenizer's length for these zeros.
      const width = this.parts.jointDim as number;
      t5States = Tensor.zeros([1, clip.length, width]);
    } else {
      [t5States] = await runEncoder(t5, prompt, ["last_hidden_state"]);
    }

    const width = t5States.shape[2];
    const clipWidth = statesL.shape[2] + statesG.shape[2];
    if (clipWidth > width) {
      throw new TweedieError("CLIP features are wider than the T5 features they are padded to", {
        code: "model_mismatch",
        path: [t5?.session.label ?? "transformer", "last_hidden_state"],
        expected: `a width >= ${clipWidth}`,
        received: width,
      });
    }
    const clipStates = concatFeatures([statesL, statesG], width);
    return {
      embeddings: concatSequence(clipStates, t5States),
      pooled: concatLast([pooledL, pooledG]),
    };
  }
}
