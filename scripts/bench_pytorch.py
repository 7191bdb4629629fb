#!/usr/bin/env python3
"""The PyTorch counterpart of `swiftgan bench`: the same DCGAN, step, cases and output layout.

    python3 scripts/bench_pytorch.py [--image-sizes 32,64] [--batch-size 64] [--width 64]
                                     [--steps 5] [--warmup 2] [--threads N]

Cases (see Sources/SwiftGANCLI/BenchCommand.swift):
  train step SxS      one D update (BCE-with-logits, real -> 1 and detached fake -> 0, summed) then one G update
                      (BCE(D(fake), 1)) reusing the same fake batch; Adam lr 2e-4, betas (0.5, 0.999);
                      random uniform [-1, 1] images [batch, 1, S, S]; median of the timed steps.
  sample 256 at SxS   the generator alone on 256 latents, eval mode, under torch.no_grad().
Lines starting with '#' are comments (torch version, parameter counts) that a parser can skip.
Exits 3 when PyTorch is not installed, 2 on a usage error.
"""

import argparse
import os
import resource
import sys
import time


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
    sizes = []
    for part in text.split(","):
        if part not in ("32", "64"):
            raise argparse.ArgumentTypeError(f"'{part}' is not 32 or 64")
        sizes.append(int(part))
    return sizes


def parse_arguments():
    parser = argparse.ArgumentParser(description="Time the standard DCGAN training step in PyTorch (CPU).")
    parser.add_argument("--image-sizes", type=image_sizes, default=[32, 64], metavar="LIST",
                        help="comma-separated image sizes (32, 64); default 32,64")
    parser.add_argument("--batch-size", type=positive_int(2, 4096), default=64, metavar="N", help="images per step")
    parser.add_argument("--width", type=positive_int(1, 1024), default=64, metavar="N", help="ngf = ndf")
    parser.add_argument("--steps", type=positive_int(1, 10_000), default=5, metavar="N",
                        help="timed steps per size")
    parser.add_argument("--warmup", type=positive_int(0, 10_000), default=2, metavar="N", help="untimed steps first")
    parser.add_argument("--threads", type=positive_int(1, 1024), default=None, metavar="N",
                        help="CPU threads (default: all cores)")
    return parser.parse_args()


def build_models(nn, size, width, latent_size=100, channels=1):
    """The DCGAN generator and discriminator of Sources/SwiftGAN/DCGAN.swift."""
    stages = size.bit_length() - 1 - 2  # log2(size) - 2: 3 at 32x32, 4 at 64x64

    g_layers = []
    ch = width << (stages - 1)
    g_layers += [nn.ConvTranspose2d(latent_size, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
    for _ in range(1, stages):
        g_layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    g_layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
    generator = nn.Sequential(*g_layers)

    ch = width
    d_layers = [nn.Conv2d(channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    for _ in range(1, stages):
        d_layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
        ch *= 2
    d_layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False), nn.Flatten()]  # [N, 1] logits
    discriminator = nn.Sequential(*d_layers)

    def initialize(module):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)

    generator.apply(initialize)
    discriminator.apply(initialize)
    return generator, discriminator


def median(values):
    return sorted(values)[len(values) // 2]  # same rule as BenchCommand.swift


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
    batch, width, steps, warmup = args.batch_size, args.width, args.steps, args.warmup
    latent_size = 100

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"{torch.get_num_interop_threads()} inter-op, mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"threads {threads}, batch {batch}, width {width}, {steps} timed steps after {warmup} warm-up")
    print("case                         median ms/step   images/s")
    sys.stdout.flush()
    for size in args.image_sizes:
        generator, discriminator = build_models(nn, size, width, latent_size)
        g_count = sum(p.numel() for p in generator.parameters())
        d_count = sum(p.numel() for p in discriminator.parameters())
        print(f"# {size}x{size} width {width}: {g_count + d_count} parameters "
              f"(generator {g_count}, discriminator {d_count})")
        g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = torch.rand(batch, 1, size, size) * 2 - 1
        ones = torch.ones(batch, 1)
        zeros = torch.zeros(batch, 1)

        def train_step():
            z = torch.randn(batch, latent_size, 1, 1)
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
                raise SystemExit(f"bench_pytorch: the loss became non-finite at {size}x{size}")

        generator.train()
        discriminator.train()
        times = []
        for i in range(warmup + steps):
            start = time.perf_counter()
            train_step()
            ms = (time.perf_counter() - start) * 1000
            if i >= warmup:
                times.append(ms)
        m = median(times)
        print("train step %2dx%-2d              %8.1f   %8.1f" % (size, size, m, batch / m * 1000))
        sys.stdout.flush()

        latents = torch.randn(256, latent_size, 1, 1)
        generator.eval()
        sample_times = []
        with torch.no_grad():
            for i in range(warmup + steps):
                start = time.perf_counter()
                generator(latents)
                ms = (time.perf_counter() - start) * 1000
                if i >= warmup:
                    sample_times.append(ms)
        generator.train()
        m = median(sample_times)
        print("sample 256 at %2dx%-2d           %8.1f   %8.1f" % (size, size, m, 256 / m * 1000))
        sys.stdout.flush()

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("peak resident memory: %.0f MiB" % (peak_kib / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
