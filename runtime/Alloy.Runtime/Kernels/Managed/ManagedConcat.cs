namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Concat of tensors of one fixed-size element type (whole bytes per element) as block copies: for each index of the
/// dims before the axis, each input contributes one contiguous block (its axis length × the dims after it), placed
/// one after the other in the output. Large copies are cut into pieces of at least <see cref="MinPieceBytes"/> and
/// spread over the kernel's threads. Copies are exact. Anything with something to report (mixed types or ranks,
/// shapes differing outside the axis, an axis out of range, no inputs) and strings or sub-byte types run the
/// reference kernel, which names the problem.
/// </summary>
internal static class ManagedConcat
{
    /// <summary>Bytes a piece of a parallel copy holds at least.</summary>
    public const long MinPieceBytes = 64 * 1024;

    public static void Register(KernelRegistry r) =>
        r.Register("Concat", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null || !n.Attributes.Has("axis") ? fallback : new ConcatKernel(fallback, n.Attributes.GetInt("axis"));
        });

    /// <summary>One copy: from an input's block to its place in the output, in bytes.</summary>
    private readonly record struct Piece(nint Source, nint Destination, long Bytes);

    private sealed unsafe class ConcatKernel(IKernel fallback, long axis) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (!TryShape(inputs, axis, out int a, out var shape))
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var first = inputs[0]!;
            var y = Tensor.CreateUninitialized(first.Type, shape);
            outputs[0] = y;
            long outer = 1, total = y.ByteLength;
            for (int d = 0; d < a; d++) outer *= shape[d];
            if (total == 0) return;
            // Cut every block into pieces of at least MinPieceBytes when the copy is worth splitting.
            long ranges = ParallelRanges.Ranges(context.Threads, total, MinPieceBytes);
            long pieceBytes = ranges <= 1 ? long.MaxValue : Math.Max(MinPieceBytes, total / ranges);
            var pieces = new List<Piece>();
            byte* dst = (byte*)y.Pointer;
            for (long o = 0; o < outer; o++)
                foreach (var x in inputs)
                {
                    long block = x!.ByteLength / outer;
                    byte* src = (byte*)x.Pointer + o * block;
                    for (long at = 0; at < block; at += pieceBytes)
                        pieces.Add(new Piece((nint)(src + at), (nint)(dst + at), Math.Min(pieceBytes, block - at)));
                    dst += block;
                }
            var list = pieces.ToArray();
            Sgemm.ParallelFor(ranges <= 1 ? 1 : context.Threads, list.Length, i =>
            {
                var p = list[i];
                Buffer.MemoryCopy((void*)p.Source, (void*)p.Destination, p.Bytes, p.Bytes);
            });
        }

        /// <summary>
        /// The output shape and the normalized axis when every input is a tensor of the first one's whole-byte type
        /// and rank, with the same dims outside the axis; false for anything the reference kernel should report.
        /// </summary>
        private static bool TryShape(ReadOnlySpan<Tensor?> inputs, long axis, out int a, out long[] shape)
        {
            a = 0;
            shape = [];
            if (inputs.Length == 0 || inputs[0] is not { } first || first.Type == ElementType.String || first.Type.Bits() % 8 != 0) return false;
            int rank = first.Rank;
            if (axis < -rank || axis >= rank || rank == 0) return false;
            a = (int)(axis < 0 ? axis + rank : axis);
            shape = (long[])first.Shape.Clone();
            shape[a] = 0;
            foreach (var x in inputs)
            {
                if (x is null || x.Type != first.Type || x.Rank != rank) return false;
                for (int d = 0; d < rank; d++)
                    if (d != a && x.Shape[d] != first.Shape[d]) return false;
                shape[a] += x.Shape[a];
            }
            return true;
        }
    }
}
