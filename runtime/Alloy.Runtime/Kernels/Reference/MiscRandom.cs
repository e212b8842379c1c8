namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// The Mersenne Twister MT19937 as numpy's legacy <c>np.random.seed(int)</c> / <c>np.random.uniform</c> use it
/// (init_genrand seeding, 53-bit doubles from two 32-bit draws), so that seeded random ops reproduce the ONNX
/// reference implementation bit for bit.
/// </summary>
internal sealed class NumpyMt19937
{
    private const int N = 624, M = 397;
    private readonly uint[] _state = new uint[N];
    private int _pos;

    public NumpyMt19937(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++) _state[i] = unchecked(1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i);
        _pos = N;
    }

    public uint NextUInt32()
    {
        if (_pos >= N) Twist();
        uint y = _state[_pos++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680u;
        y ^= (y << 15) & 0xEFC60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>A double in [0, 1) with 53 random bits (numpy's <c>random_sample</c>).</summary>
    public double NextDouble()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    private void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7FFFFFFFu);
            _state[i] = _state[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908B0DFu : 0u);
        }
        _pos = 0;
    }
}
