using System.Runtime.InteropServices;
using Alloy.Runtime.Kernels.Reference;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Output buffers of the managed kernels: float32 results go straight into the output tensor; 16-bit results are
/// accumulated in a float32 scratch buffer and rounded once into the tensor at the end.
/// </summary>
internal sealed unsafe class FloatOutput : IDisposable
{
    private readonly Tensor _tensor;
    private float* _scratch;

    public FloatOutput(Tensor tensor)
    {
        _tensor = tensor;
        if (tensor.Type != ElementType.Float)
            _scratch = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, tensor.Length * sizeof(float)), 64);
    }

    /// <summary>Where the float32 results go.</summary>
    public float* Data => _tensor.Type == ElementType.Float ? (float*)_tensor.Pointer : _scratch;

    /// <summary>Rounds the float32 results into the tensor (once each).</summary>
    public void Complete(ManagedIsa isa)
    {
        if (_scratch != null) ManagedConvert.Narrow(isa, _tensor.Type, _scratch, _tensor.Pointer, _tensor.Length);
    }

    public void Dispose()
    {
        if (_scratch == null) return;
        NativeMemory.AlignedFree(_scratch);
        _scratch = null;
    }
}

/// <summary>
/// MatMul (opset 1, 9, 13) on f32 / bf16 / f16: numpy matmul shapes (1-D promotion, batch broadcasting) through
/// <see cref="Sgemm"/>, the result stored as the node's decided result type (f32 / bf16 / f16) or else A's type. When B has no batch dims of its own, A's batch folds into M (one GEMM); otherwise one GEMM
/// per batch matrix, spread over the threads when the matrices are small. Other types go to the reference kernel.
/// </summary>
internal sealed unsafe class ManagedMatMulKernel(ManagedIsa isa, IKernel fallback, ElementType? outputType, ActivationClamp clamp = default)
    : IKernel, IActivationFusion, IWeightPrepacking
{
    private PackedOperand? _packedB;

    public IKernel? WithActivation(ActivationClamp activation) => clamp.Enabled ? null : new ManagedMatMulKernel(isa, fallback, outputType, activation);

    /// <summary>A constant 2-D B (the weights of a linear layer) is packed into the GEMM's B panels once.</summary>
    public void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads)
    {
        if (constantInputs.Length < 2 || constantInputs[1] is not { Rank: 2 } b || !ManagedConvert.IsSupported(b.Type) || b.Length == 0) return;
        long k = b.Shape[0], n = b.Shape[1];
        _packedB = PackedOperand.Pack(b, new StridedMatrix(isa, b.Pointer, b.Type, n, 1), k, n, Sgemm.Registers(isa).NR, threads);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (inputs.Length < 2 || inputs[0] is not { } a || inputs[1] is not { } b || a.Type != b.Type
            || !ManagedConvert.IsSupported(a.Type) || a.Rank == 0 || b.Rank == 0)
        {
            fallback.Run(context, inputs, outputs);
            if (outputs[0] is { } r) clamp.ApplyInPlace(isa, r);
            return;
        }
        var s = MatMulShape.Of(a.Shape, b.Shape, "MatMul");
        var y = Tensor.CreateUninitialized(outputType ?? a.Type, s.OutShape);
        try
        {
            using var output = new FloatOutput(y);
            var packed = _packedB is { } p && p.Matches(b) ? p : null;
            Compute(context.Threads, a, b, packed, s, output.Data);
            GC.KeepAlive(packed);
            output.Complete(isa);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        outputs[0] = y;
    }

    private void Compute(int threads, Tensor a, Tensor b, PackedOperand? packedB, MatMulShape s, float* c)
    {
        long m = s.M, n = s.N, k = s.K, batch = s.Batch;
        if (batch == 0 || m == 0 || n == 0) return;
        void* ad = a.Pointer, bd = b.Pointer;
        var type = a.Type;
        bool foldBatch = true;
        for (long p = 0; p < batch && foldBatch; p++) foldBatch = s.BBatch[p] == 0 && s.ABatch[p] == p;
        if (foldBatch)
        {
            PanelView? pb = packedB is not null && b.Rank == 2 ? packedB.View : null;
            Sgemm.Multiply(isa, threads, batch * m, n, k, new StridedMatrix(isa, ad, type, k, 1), null, new StridedMatrix(isa, bd, type, n, 1), pb, c, n, Epilogue.None.With(clamp));
            return;
        }
        int elementSize = type == ElementType.Float ? 4 : 2;
        bool small = m * n * k < (1L << 18);
        int outer = small ? Math.Min(threads, (int)Math.Min(batch, int.MaxValue)) : 1, inner = small ? 1 : threads;
        long[] aBatch = s.ABatch, bBatch = s.BBatch;
        nint aBase = (nint)ad, bBase = (nint)bd, cBase = (nint)c;
        Sgemm.ParallelFor(outer, batch, p =>
        {
            var am = new StridedMatrix(isa, (byte*)aBase + aBatch[p] * m * k * elementSize, type, k, 1);
            var bm = new StridedMatrix(isa, (byte*)bBase + bBatch[p] * k * n * elementSize, type, n, 1);
            Sgemm.Multiply(isa, inner, m, n, k, am, bm, (float*)cBase + p * m * n, n, Epilogue.None.With(clamp));
        });
    }
}

/// <summary>
/// Gemm (opset 6-13) on f32 / bf16 / f16: <c>Y = alpha·A'·B' + beta·C</c> with transA / transB folded into the
/// operand strides and C (scalar, [N], [1,N], [M,1] or [M,N]) broadcast through the epilogue, all in float32,
/// rounded once on store. Other types and ranks go to the reference kernel.
/// </summary>
internal sealed unsafe class ManagedGemmKernel(ManagedIsa isa, IKernel fallback, ElementType? outputType, float alpha, float beta, bool transA, bool transB, ActivationClamp clamp = default)
    : IKernel, IActivationFusion, IWeightPrepacking
{
    private PackedOperand? _packedB;

    public IKernel? WithActivation(ActivationClamp activation) =>
        clamp.Enabled ? null : new ManagedGemmKernel(isa, fallback, outputType, alpha, beta, transA, transB, activation);

    /// <summary>A constant B (the weights) is packed into the GEMM's B panels once, transposed or not.</summary>
    public void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads)
    {
        if (constantInputs.Length < 2 || constantInputs[1] is not { Rank: 2 } b || !ManagedConvert.IsSupported(b.Type) || b.Length == 0) return;
        long k = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        _packedB = PackedOperand.Pack(b, BView(b, k, n), k, n, Sgemm.Registers(isa).NR, threads);
    }

    private StridedMatrix BView(Tensor b, long k, long n) =>
        transB ? new StridedMatrix(isa, b.Pointer, b.Type, 1, k) : new StridedMatrix(isa, b.Pointer, b.Type, n, 1);

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var c = inputs.Length > 2 ? inputs[2] : null;
        if (inputs.Length < 2 || inputs[0] is not { } a || inputs[1] is not { } b || a.Type != b.Type || !ManagedConvert.IsSupported(a.Type)
            || a.Rank != 2 || b.Rank != 2 || (c is not null && (c.Type != a.Type || c.Rank > 2)))
        {
            fallback.Run(context, inputs, outputs);
            if (outputs[0] is { } r) clamp.ApplyInPlace(isa, r);
            return;
        }
        long m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        long kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
            throw new KernelException($"Gemm: inner dimensions differ: A {a.ShapeText} (transA={(transA ? 1 : 0)}) and B {b.ShapeText} (transB={(transB ? 1 : 0)})");
        long rowStride = 0, colStride = 0;
        if (c is not null)
        {
            long cm = c.Rank == 2 ? c.Shape[0] : 1, cn = c.Rank >= 1 ? c.Shape[^1] : 1;
            if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
                throw new KernelException($"Gemm: C {c.ShapeText} cannot be broadcast to [{m},{n}]");
            rowStride = cm == 1 ? 0 : cn;
            colStride = cn == 1 ? 0 : 1;
        }
        var av = transA ? new StridedMatrix(isa, a.Pointer, a.Type, 1, m) : new StridedMatrix(isa, a.Pointer, a.Type, k, 1);
        var bv = BView(b, k, n);
        var packed = _packedB is { } p && p.Matches(b) ? p : null;
        var y = Tensor.CreateUninitialized(outputType ?? a.Type, [m, n]);
        try
        {
            using var output = new FloatOutput(y);
            var bias = c is null ? null : ManagedConvert.ToFloats(isa, c);
            fixed (float* bp = bias)
            {
                var e = new Epilogue(alpha, beta, bp, rowStride, colStride, clamp);
                Sgemm.Multiply(isa, context.Threads, m, n, k, av, null, bv, packed?.View, output.Data, n, e);
            }
            GC.KeepAlive(packed);
            output.Complete(isa);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        outputs[0] = y;
    }
}
