#!/usr/bin/env python3
"""The PyTorch counterpart of `swiftgan bench`: the same models, cases, FLOP count and output layout.

    python3 scripts/bench_pytorch.py [--cases LIST | --image-sizes 32,64] [--batch-size 64] [--width 64]
                                     [--volume-batch-size 32] [--volume-width 32]
                                     [--steps 5] [--warmup 2] [--threads N] [--list]

Cases (see Sources/SwiftGANCLI/BenchCommand.swift):
  train-32, train-64  one D update (BCE-with-logits, real -> 1 and detached fake -> 0, summed) then one G update
                      (BCE(D(fake), 1)) reusing the same fake batch; Adam lr 2e-4, betas (0.5, 0.999);
                      random uniform [-1, 1] images [batch, 1, S, S]; nz 100.
  sample-32, -64      the generator alone on 256 latents, eval mode, under torch.no_grad().
  d-conv              Conv2d 128 -> 256, k4 s2 p1, no bias, on [batch, 128, 16, 16]: forward, then the gradients of
                      the input and the weight for a fixed random output gradient.
  g-deconv            ConvTranspose2d 256 -> 128, k4 s2 p1, no bias, on [batch, 256, 8, 8]: the same.
  train-3d            the training step of the volumetric GAN (Conv3d / ConvTranspose3d / BatchNorm3d, 32^3 grids,
                      nz 200, one channel), random occupancy in {-1, 1}, no discriminator accuracy limit.
Weights N(0, 0.02), batch-norm scales N(1, 0.02) and shifts 0, as in SwiftGAN.
Nominal FLOP: 2 per multiply-add of the convolutions, from the layer shapes; a training step counts
2 * batch * (9 * D + 3 * G) (D, G: forward multiply-adds per sample), sampling 2 * 256 * G, a layer case
2 * batch * 3 * layer. Each printed row: case, median ms, items/s, GFLOP per iteration, GFLOP/s, description.
Lines starting with '#' are comments (torch version, parameter counts) that a parser can skip.
Exits 3 when PyTorch is not installed, 2 on a usage error.
"""

import argparse
import os
import random
import resource
import sys
import time

CASES = ["train-32", "sample-32", "train-64", "sample-64", "d-conv", "g-deconv", "train-3d"]
SAMPLE_COUNT = 256


def positive_int(lo, hi):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not in {lo}...{hi}")
        return value
    return parse


def image_sizes(text):
    cases = []
    for part in text.split(","):
        if part not in ("32", "64"):
            raise argparse.ArgumentTypeError(f"'{part}' is not 32 or 64")
        cases += [f"train-{part}", f"sample-{part}"]
    return cases


def case_list(text):
    if text == "all":
        return list(CASES)
    cases = text.split(",")
    for part in cases:
        if part not in CASES:
            raise argparse.ArgumentTypeError(f"'{part}' is not a case ({', '.join(CASES)})")
    return cases


def parse_arguments():
    parser = argparse.ArgumentParser(description="Time the SwiftGAN benchmark cases in PyTorch (CPU).")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cases", type=case_list, default=None, metavar="LIST",
                       help="comma-separated cases: " + ", ".join(CASES) + " (default: all)")
    which.add_argument("--image-sizes", type=image_sizes, default=None, metavar="LIST",
                       help="instead of --cases: the training and sampling cases at these sizes (32, 64)")
    parser.add_argument("--batch-size", type=positive_int(2, 4096), default=64, metavar="N",
                        help="images per 2D training step, and the layer cases' batch")
    parser.add_argument("--width", type=positive_int(1, 1024), default=64, metavar="N", help="ngf = ndf (2D)")
    parser.add_argument("--volume-batch-size", type=positive_int(2, 4096), default=32, metavar="N",
                        help="voxel grids per 3D training step")
    parser.add_argument("--volume-width", type=positive_int(1, 1024), default=32, metavar="N",
                        help="ngf = ndf of the volumetric GAN")
    parser.add_argument("--steps", type=positive_int(1, 10_000), default=5, metavar="N",
                        help="timed iterations per case")
    parser.add_argument("--warmup", type=positive_int(0, 10_000), default=2, metavar="N", help="untimed iterations first")
    parser.add_argument("--threads", type=positive_int(1, 1024), default=None, metavar="N",
                        help="CPU threads (default: all cores)")
    parser.add_argument("--list", action="store_true",
                        help="print the selected cases and their nominal FLOP per iteration, without timing")
    args = parser.parse_args()
    args.cases = args.cases or args.image_sizes or list(CASES)
    return args


def build_models(nn, size, width, latent_size, channels=1, rank=2):
    """The DCGAN generator and discriminator of Sources/SwiftGAN/DCGAN.swift (rank 3: the volumetric GAN)."""
    ConvT = nn.ConvTranspose3d if rank == 3 else nn.ConvTranspose2d
    Conv = nn.Conv3d if rank == 3 else nn.Conv2d
    Norm = nn.BatchNorm3d if rank == 3 else nn.BatchNorm2d
    stages = size.bit_length() - 1 - 2  # log2(size) - 2: 3 at 32, 4 at 64

    g_layers = []
    ch = width << (stages - 1)
    g_layers += [ConvT(latent_size, ch, 4, 1, 0, bias=False), Norm(ch), nn.ReLU(True)]
    for _ in range(1, stages):
        g_layers += [ConvT(ch, ch // 2, 4, 2, 1, bias=False), Norm(ch // 2), nn.ReLU(True)]
        ch //= 2
    g_layers += [ConvT(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
    generator = nn.Sequential(*g_layers)

    ch = width
    d_layers = [Conv(channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    for _ in range(1, stages):
        d_layers += [Conv(ch, ch * 2, 4, 2, 1, bias=False), Norm(ch * 2), nn.LeakyReLU(0.2, True)]
        ch *= 2
    d_layers += [Conv(ch, 1, 4, 1, 0, bias=False), nn.Flatten()]  # [N, 1] logits
    discriminator = nn.Sequential(*d_layers)

    generator.apply(lambda m: initialize(nn, m))
    discriminator.apply(lambda m: initialize(nn, m))
    return generator, discriminator


def initialize(nn, module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d, nn.ConvTranspose3d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def forward_macs(nn, model, spatial):
    """Multiply-adds of one forward pass for one sample, from the (transposed) convolutions' shapes, whose input has
    spatial size `spatial` (a list). Convolution: out * in * kernel per output position; transposed convolution:
    in * out * kernel per input position."""
    total = 0
    for m in model.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose3d)):
            kernel = 1
            for k in m.kernel_size:
                kernel *= k
            positions = 1
            for s in spatial:
                positions *= s
            total += m.in_channels * m.out_channels * kernel * positions
            spatial = [(s - 1) * m.stride[i] - 2 * m.padding[i] + m.kernel_size[i] + m.output_padding[i]
                       for i, s in enumerate(spatial)]
        elif isinstance(m, (nn.Conv2d, nn.Conv3d)):
            kernel = 1
            for k in m.kernel_size:
                kernel *= k
            spatial = [(s + 2 * m.padding[i] - m.kernel_size[i]) // m.stride[i] + 1 for i, s in enumerate(spatial)]
            positions = 1
            for s in spatial:
                positions *= s
            total += m.out_channels * m.in_channels * kernel * positions
    return total


def median(values):
    return sorted(values)[len(values) // 2]  # same rule as BenchCommand.swift


class Case:
    def __init__(self, name, summary, items, flops, prepare):
        self.name, self.summary, self.items, self.flops, self.prepare = name, summary, items, flops, prepare


def make_gan_training(torch, nn, F, name, size, rank, batch, width, latent_size):
    """A training-step case; `prepare` builds models, optimizers and data and returns one step."""
    generator, discriminator = build_models(nn, size, width, latent_size, rank=rank)
    g_macs = forward_macs(nn, generator, [1] * rank)
    d_macs = forward_macs(nn, discriminator, [size] * rank)
    flops = 2 * batch * (9 * d_macs + 3 * g_macs)
    shape = "x".join([str(size)] * rank) if rank == 2 else f"{size}^3"
    if rank == 2:
        summary = f"DCGAN training step, {shape}, batch {batch}, width {width}"
    else:
        summary = f"volumetric GAN training step, {shape}, nz {latent_size}, batch {batch}, width {width}"

    def prepare():
        g_count = sum(p.numel() for p in generator.parameters())
        d_count = sum(p.numel() for p in discriminator.parameters())
        print(f"# {name}: {g_count + d_count} parameters (generator {g_count}, discriminator {d_count})")
        g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        if rank == 2:
            real = torch.rand(batch, 1, size, size) * 2 - 1
        else:
            real = (torch.rand(batch, 1, size, size, size) < 0.5).float() * 2 - 1
        ones = torch.ones(batch, 1)
        zeros = torch.zeros(batch, 1)
        generator.train()
        discriminator.train()
        z_shape = (batch, latent_size) + (1,) * rank

        def step():
            z = torch.randn(*z_shape)
            fake = generator(z)
            d_loss = (F.binary_cross_entropy_with_logits(discriminator(real), ones)
                      + F.binary_cross_entropy_with_logits(discriminator(fake.detach()), zeros))
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
            g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
            # Ours checks both losses for finiteness (reading the scalars); do the same.
            if not (torch.isfinite(d_loss).item() and torch.isfinite(g_loss).item()):
                raise SystemExit(f"bench_pytorch: the loss became non-finite in {name}")
        return step

    return Case(name, summary, batch, flops, prepare)


def make_sampling(torch, nn, name, size, width):
    generator, _ = build_models(nn, size, width, 100)
    flops = 2 * SAMPLE_COUNT * forward_macs(nn, generator, [1, 1])
    summary = f"DCGAN generator alone, {SAMPLE_COUNT} samples, {size}x{size}, width {width}, evaluation mode"

    def prepare():
        latents = torch.randn(SAMPLE_COUNT, 100, 1, 1)
        generator.eval()

        def step():
            with torch.no_grad():
                generator(latents)
        return step

    return Case(name, summary, SAMPLE_COUNT, flops, prepare)


def make_layer(torch, nn, name, batch):
    if name == "d-conv":
        layer, in_shape = nn.Conv2d(128, 256, 4, 2, 1, bias=False), (128, 16, 16)
        summary = f"D conv 128x16^2 -> 256x8^2, k4 s2 p1, forward + backward, batch {batch}"
    else:
        layer, in_shape = nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), (256, 8, 8)
        summary = f"G deconv 256x8^2 -> 128x16^2, k4 s2 p1, forward + backward, batch {batch}"
    initialize(nn, layer)
    flops = 2 * batch * 3 * forward_macs(nn, layer, list(in_shape[1:]))

    def prepare():
        x = torch.randn(batch, *in_shape, requires_grad=True)
        with torch.no_grad():
            seed = torch.randn_like(layer(x))

        def step():
            y = layer(x)
            torch.autograd.grad(y, [x, layer.weight], seed)
        return step

    return Case(name, summary, batch, flops, prepare)


def make_case(torch, nn, F, name, args):
    if name in ("train-32", "train-64"):
        return make_gan_training(torch, nn, F, name, int(name[-2:]), 2, args.batch_size, args.width, 100)
    if name in ("sample-32", "sample-64"):
        return make_sampling(torch, nn, name, int(name[-2:]), args.width)
    if name in ("d-conv", "g-deconv"):
        return make_layer(torch, nn, name, args.batch_size)
    return make_gan_training(torch, nn, F, name, 32, 3, args.volume_batch_size, args.volume_width, 200)


def main():
    args = parse_arguments()
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        print("PyTorch is not installed (pip install torch)", file=sys.stderr)
        return 3

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (only possible before any parallel work)
    torch.manual_seed(9)
    random.seed(9)

    cases = [make_case(torch, nn, F, name, args) for name in args.cases]
    if args.list:
        for case in cases:
            print(f"{case.name:<10} {case.flops} FLOP per iteration, {case.items} per iteration: {case.summary}")
        return 0

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"{torch.get_num_interop_threads()} inter-op, mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"threads {threads}, batch {args.batch_size}, width {args.width}, 3D batch {args.volume_batch_size} "
          f"width {args.volume_width}, {args.steps} timed iterations after {args.warmup} warm-up")
    print("case        median ms     items/s   GFLOP/iter     GFLOP/s   what")
    sys.stdout.flush()
    for case in cases:
        step = case.prepare()
        times = []
        for i in range(args.warmup + args.steps):
            start = time.perf_counter()
            step()
            ms = (time.perf_counter() - start) * 1000
            if i >= args.warmup:
                times.append(ms)
        m = median(times)
        gflop = case.flops / 1e9
        print("%-10s %10.1f  %10.1f  %11.3f  %10.1f   %s"
              % (case.name, m, case.items / m * 1000, gflop, gflop / m * 1000, case.summary))
        sys.stdout.flush()

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("peak resident memory: %.0f MiB" % (peak_kib / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
