"""Tiny, randomly initialised networks with the call signatures of the real ones.

Each class takes the inputs of its real counterpart under the same names and returns a
tensor of the real output's rank, so the export code in this package treats a tiny module
and a diffusers module alike:

- `TinyAdmUNet(x, timesteps)`: guided-diffusion's ADM U-Net (scale-shift norm, attention at
  one resolution, 2C output channels: epsilon then the variance interpolation value v);
- `TinyCondUNet(sample, timestep, encoder_hidden_states)`: diffusers' UNet2DConditionModel
  (Stable Diffusion 1.5) with self- and cross-attention;
- `TinySD3Transformer(hidden_states, encoder_hidden_states, pooled_projections, timestep)`:
  an MMDiT with joint attention over image patches and text tokens (SD3);
- `TinyFluxTransformer(hidden_states, encoder_hidden_states, pooled_projections, timestep,
  img_ids, txt_ids, guidance)`: Flux's packed-token transformer;
- `TinyVaeEncoder(sample)` and `TinyVaeDecoder(latent_sample)`: AutoencoderKL's encoder
  (returning the Gaussian moments, `latent_dist.parameters`) and decoder.

The widths are a few channels, so the graphs weigh kilobytes. Text encoders are real
transformers CLIP and T5 models with small configs (see `text.py`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, flip_sin_to_cos: bool = True) -> torch.Tensor:
    """Sinusoidal timestep features: frequencies exp(-ln(10000) k / half) for k < dim / 2."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half
    angles = t.float().reshape(-1, 1) * torch.exp(exponent).reshape(1, -1)
    sin, cos = torch.sin(angles), torch.cos(angles)
    return torch.cat([cos, sin] if flip_sin_to_cos else [sin, cos], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a timestep projection added (or scale-shift applied)."""

    def __init__(self, cin: int, cout: int, temb: int | None, scale_shift: bool = False):
        super().__init__()
        self.norm1 = nn.GroupNorm(4, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.scale_shift = scale_shift
        self.temb = None if temb is None else nn.Linear(temb, 2 * cout if scale_shift else cout)
        self.norm2 = nn.GroupNorm(4, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.temb is not None and emb is not None:
            e = self.temb(F.silu(emb))[:, :, None, None]
            if self.scale_shift:
                scale, shift = e.chunk(2, dim=1)
                h = self.norm2(h) * (1 + scale) + shift
            else:
                h = self.norm2(h + e)
        else:
            h = self.norm2(h)
        return self.skip(x) + self.conv2(F.silu(h))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head scaled dot-product attention on [B, N, D] tensors, written out in matmuls."""
    b, n, d = q.shape
    m = k.shape[1]
    hd = d // heads
    q = q.reshape(b, n, heads, hd).transpose(1, 2)
    k = k.reshape(b, m, heads, hd).transpose(1, 2)
    v = v.reshape(b, m, heads, hd).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, n, d)


class CrossAttentionBlock(nn.Module):
    """A Transformer2DModel block: self-attention, cross-attention to the text, feed-forward."""

    def __init__(self, ch: int, context_dim: int, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(4, ch)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(ch), nn.LayerNorm(ch), nn.LayerNorm(ch)
        self.qkv = nn.Linear(ch, 3 * ch, bias=False)
        self.out1 = nn.Linear(ch, ch)
        self.q2 = nn.Linear(ch, ch, bias=False)
        self.kv2 = nn.Linear(context_dim, 2 * ch, bias=False)
        self.out2 = nn.Linear(ch, ch)
        self.ff = nn.Sequential(nn.Linear(ch, 2 * ch), nn.GELU(), nn.Linear(2 * ch, ch))
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(self.ln1(tokens)).chunk(3, dim=-1)
        tokens = tokens + self.out1(attention(q, k, v, self.heads))
        k2, v2 = self.kv2(context).chunk(2, dim=-1)
        tokens = tokens + self.out2(attention(self.q2(self.ln2(tokens)), k2, v2, self.heads))
        tokens = tokens + self.ff(self.ln3(tokens))
        return x + self.proj_out(tokens.transpose(1, 2).reshape(b, c, h, w))


class TinyCondUNet(nn.Module):
    """UNet2DConditionModel-like: eps (or v) prediction with cross-attention to the text."""

    def __init__(self, in_channels: int = 4, ch: int = 16, context_dim: int = 16, temb: int = 32):
        super().__init__()
        self.ch = ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.res1 = ResBlock(ch, ch, temb)
        self.attn1 = CrossAttentionBlock(ch, context_dim)
        self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.mid = ResBlock(2 * ch, 2 * ch, temb)
        self.mid_attn = CrossAttentionBlock(2 * ch, context_dim)
        self.up = nn.Conv2d(2 * ch, ch, 3, padding=1)
        self.res2 = ResBlock(2 * ch, ch, temb)
        self.norm_out = nn.GroupNorm(4, ch)
        self.conv_out = nn.Conv2d(ch, in_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        batch = sample.shape[0]
        t = timestep.reshape(-1).float().expand(batch)
        emb = self.time_mlp(sinusoidal_embedding(t, self.ch))
        h1 = self.attn1(self.res1(self.conv_in(sample), emb), encoder_hidden_states)
        h = self.mid_attn(self.mid(self.down(h1), emb), encoder_hidden_states)
        h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.res2(torch.cat([h, h1], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


class QkvAttention(nn.Module):
    """guided-diffusion's AttentionBlock: GroupNorm, one qkv 1x1 conv, heads, projection."""

    def __init__(self, ch: int, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(4, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj = nn.Conv1d(ch, ch, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x).reshape(b, c, h * w)).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        out = attention(q, k, v, self.heads).transpose(1, 2)
        return x + self.proj(out).reshape(b, c, h, w)


class TinyAdmUNet(nn.Module):
    """ADM U-Net with learned sigma: output channels 0..C-1 are epsilon, C..2C-1 are v."""

    def __init__(self, channels: int = 3, ch: int = 16, temb: int = 32):
        super().__init__()
        self.ch = ch
        self.time_embed = nn.Sequential(nn.Linear(ch, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)
        self.res1 = ResBlock(ch, ch, temb, scale_shift=True)
        self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.res2 = ResBlock(2 * ch, 2 * ch, temb, scale_shift=True)
        self.attn = QkvAttention(2 * ch)
        self.mid = ResBlock(2 * ch, 2 * ch, temb, scale_shift=True)
        self.up = nn.Conv2d(2 * ch, ch, 3, padding=1)
        self.res3 = ResBlock(2 * ch, ch, temb, scale_shift=True)
        self.norm_out = nn.GroupNorm(4, ch)
        self.conv_out = nn.Conv2d(ch, 2 * channels, 3, padding=1)

    def forward(self, x, timesteps):
        emb = self.time_embed(sinusoidal_embedding(timesteps, self.ch, flip_sin_to_cos=True))
        h1 = self.res1(self.conv_in(x), emb)
        h = self.mid(self.attn(self.res2(self.down(h1), emb)), emb)
        h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.res3(torch.cat([h, h1], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def sincos_positions(height: int, width: int, dim: int) -> torch.Tensor:
    """2-D sine-cosine position features [height * width, dim] (rows, then columns)."""
    rows = torch.arange(height, dtype=torch.float32).repeat_interleave(width)
    cols = torch.arange(width, dtype=torch.float32).repeat(height)
    return torch.cat(
        [sinusoidal_embedding(rows, dim // 2, False), sinusoidal_embedding(cols, dim // 2, False)],
        dim=1,
    )


class JointBlock(nn.Module):
    """MMDiT block: adaLN-modulated joint attention over image and text tokens, then MLPs."""

    def __init__(self, hidden: int, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.mod_x = nn.Linear(hidden, 6 * hidden)
        self.mod_c = nn.Linear(hidden, 6 * hidden)
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.qkv_x = nn.Linear(hidden, 3 * hidden)
        self.qkv_c = nn.Linear(hidden, 3 * hidden)
        self.out_x = nn.Linear(hidden, hidden)
        self.out_c = nn.Linear(hidden, hidden)
        self.mlp_x = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(approximate="tanh"), nn.Linear(2 * hidden, hidden))
        self.mlp_c = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(approximate="tanh"), nn.Linear(2 * hidden, hidden))

    def forward(self, x, context, vec):
        sx = self.mod_x(F.silu(vec)).unsqueeze(1).chunk(6, dim=-1)
        sc = self.mod_c(F.silu(vec)).unsqueeze(1).chunk(6, dim=-1)
        hx = self.norm(x) * (1 + sx[1]) + sx[0]
        hc = self.norm(context) * (1 + sc[1]) + sc[0]
        qx, kx, vx = self.qkv_x(hx).chunk(3, dim=-1)
        qc, kc, vc = self.qkv_c(hc).chunk(3, dim=-1)
        n = context.shape[1]
        joint = attention(torch.cat([qc, qx], 1), torch.cat([kc, kx], 1), torch.cat([vc, vx], 1), self.heads)
        x = x + sx[2] * self.out_x(joint[:, n:])
        context = context + sc[2] * self.out_c(joint[:, :n])
        x = x + sx[5] * self.mlp_x(self.norm(x) * (1 + sx[4]) + sx[3])
        context = context + sc[5] * self.mlp_c(self.norm(context) * (1 + sc[4]) + sc[3])
        return x, context


class TinySD3Transformer(nn.Module):
    """SD3Transformer2DModel-like: predicts the flow velocity eps - x0 on a latent image."""

    def __init__(self, in_channels: int = 4, hidden: int = 32, joint_dim: int = 48, pooled_dim: int = 40, patch: int = 2, blocks: int = 2):
        super().__init__()
        self.patch, self.hidden, self.in_channels = patch, hidden, in_channels
        self.patch_embed = nn.Conv2d(in_channels, hidden, patch, stride=patch)
        self.time_mlp = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.pooled_mlp = nn.Sequential(nn.Linear(pooled_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.context_embedder = nn.Linear(joint_dim, hidden)
        self.blocks = nn.ModuleList(JointBlock(hidden) for _ in range(blocks))
        self.norm_out = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mod_out = nn.Linear(hidden, 2 * hidden)
        self.proj_out = nn.Linear(hidden, patch * patch * in_channels)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep):
        b, c, h, w = hidden_states.shape
        p = self.patch
        gh, gw = h // p, w // p
        x = self.patch_embed(hidden_states).flatten(2).transpose(1, 2)
        x = x + sincos_positions(gh, gw, self.hidden).unsqueeze(0)
        vec = self.time_mlp(sinusoidal_embedding(timestep, 64)) + self.pooled_mlp(pooled_projections)
        context = self.context_embedder(encoder_hidden_states)
        for block in self.blocks:
            x, context = block(x, context, vec)
        shift, scale = self.mod_out(F.silu(vec)).unsqueeze(1).chunk(2, dim=-1)
        x = self.proj_out(self.norm_out(x) * (1 + scale) + shift)
        x = x.reshape(b, gh, gw, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, h, w)


class TinyFluxTransformer(nn.Module):
    """FluxTransformer2DModel-like on packed 2x2 latent patches [B, N, 4C].

    Positions come from img_ids and txt_ids through a learned linear map (Flux rotates
    queries and keys by these ids instead); timestep and guidance arrive as sigma and are
    scaled by 1000 inside, as in Flux."""

    def __init__(self, packed_channels: int = 16, hidden: int = 32, joint_dim: int = 48, pooled_dim: int = 16, guidance: bool = True):
        super().__init__()
        self.x_embedder = nn.Linear(packed_channels, hidden)
        self.context_embedder = nn.Linear(joint_dim, hidden)
        self.ids_embedder = nn.Linear(3, hidden)
        self.time_mlp = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.guidance_mlp = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden)) if guidance else None
        self.pooled_mlp = nn.Sequential(nn.Linear(pooled_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.block = JointBlock(hidden)
        self.norm_out = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mod_out = nn.Linear(hidden, 2 * hidden)
        self.proj_out = nn.Linear(hidden, packed_channels)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep, img_ids, txt_ids, guidance=None):
        x = self.x_embedder(hidden_states) + self.ids_embedder(img_ids).unsqueeze(0)
        context = self.context_embedder(encoder_hidden_states) + self.ids_embedder(txt_ids).unsqueeze(0)
        vec = self.time_mlp(sinusoidal_embedding(timestep * 1000, 64)) + self.pooled_mlp(pooled_projections)
        if self.guidance_mlp is not None:
            vec = vec + self.guidance_mlp(sinusoidal_embedding(guidance * 1000, 64))
        x, _ = self.block(x, context, vec)
        shift, scale = self.mod_out(F.silu(vec)).unsqueeze(1).chunk(2, dim=-1)
        return self.proj_out(self.norm_out(x) * (1 + scale) + shift)


class TinyVaeEncoder(nn.Module):
    """AutoencoderKL encoder returning the moments [mean, logvar] (2 x latent channels)."""

    def __init__(self, latent_channels: int = 4, widths: tuple[int, ...] = (8, 16, 16)):
        super().__init__()
        self.conv_in = nn.Conv2d(3, widths[0], 3, padding=1)
        layers = []
        for i, width in enumerate(widths):
            cin = widths[max(i - 1, 0)]
            layers.append(ResBlock(cin, width, None))
            if i < len(widths) - 1:
                layers.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        self.norm_out = nn.GroupNorm(4, widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], 2 * latent_channels, 3, padding=1)

    def forward(self, sample):
        h = self.body(self.conv_in(sample))
        return self.conv_out(F.silu(self.norm_out(h)))


class TinyVaeDecoder(nn.Module):
    """AutoencoderKL decoder: latent [B, C, h, w] to an image [B, 3, h * 2^(n-1), w * 2^(n-1)]."""

    def __init__(self, latent_channels: int = 4, widths: tuple[int, ...] = (8, 16, 16)):
        super().__init__()
        rev = list(reversed(widths))
        self.conv_in = nn.Conv2d(latent_channels, rev[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        self.ups = nn.ModuleList()
        for i, width in enumerate(rev):
            self.blocks.append(ResBlock(rev[max(i - 1, 0)], width, None))
            if i < len(rev) - 1:
                self.ups.append(nn.Conv2d(width, width, 3, padding=1))
        self.norm_out = nn.GroupNorm(4, rev[-1])
        self.conv_out = nn.Conv2d(rev[-1], 3, 3, padding=1)

    def forward(self, latent_sample):
        h = self.conv_in(latent_sample)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i < len(self.ups):
                h = self.ups[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
