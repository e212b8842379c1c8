namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// The oneDNN convolutions of one kernel, created on first use for each input shape, thread count and layout (oneDNN
/// tunes its blocking to both) and kept for the kernel's lifetime; a configuration oneDNN has no implementation
/// for is remembered with its reason so it is asked only once.
/// </summary>
internal sealed unsafe class ConvolutionPrimitives(ConvolutionTypes types, ConvolutionEpilogue epilogue) : IDisposable
{
    private readonly Dictionary<(ConvolutionShape Shape, int Threads, ConvolutionLayouts Layouts), (OneDnnConvolution? Conv, string? Reason)> _created = [];
    private readonly Lock _lock = new();

    public ConvolutionTypes Types { get; } = types;
    public ConvolutionEpilogue Epilogue { get; } = epilogue;

    /// <summary>The convolution for <paramref name="shape"/> on <paramref name="threads"/> threads; null with the reason oneDNN gave.</summary>
    public OneDnnConvolution? Get(ConvolutionShape shape, int threads, ConvolutionLayouts layouts, void* weights, void* bias, out string? reason)
    {
        lock (_lock)
        {
            if (!_created.TryGetValue((shape, threads, layouts), out var entry))
            {
                var conv = OneDnnConvolution.TryCreate(shape, Types, Epilogue, layouts, weights, bias, threads, out var why);
                _created[(shape, threads, layouts)] = entry = (conv, why);
            }
            reason = entry.Reason;
            return entry.Conv;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (conv, _) in _created.Values) conv?.Dispose();
            _created.Clear();
        }
    }
}
