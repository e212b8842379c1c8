using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Alloy.Runtime.IO;

/// <summary>A malformed or unsupported .npy file; the message names the file.</summary>
public sealed class NpyFormatException(string message) : IOException(message);

/// <summary>The header of a .npy file: element type, shape, where the data starts, the format version.</summary>
public sealed record NpyHeader(ElementType Type, long[] Shape, long DataOffset, int MajorVersion, int MinorVersion)
{
    /// <summary>Number of elements (1 for a 0-d array).</summary>
    public long Length => Shape.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>Bytes of element data the header promises.</summary>
    public long DataLength => checked(Length * Type.ByteCount(1));

    public string ShapeText => "(" + string.Join(", ", Shape) + (Shape.Length == 1 ? ",)" : ")");
}

/// <summary>
/// NumPy's .npy format (versions 1.0, 2.0 and 3.0): the magic <c>\x93NUMPY</c>, a version, a little-endian header
/// length (2 bytes in 1.0, 4 bytes in 2.0 and 3.0), and a Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (540, 64), }</c> padded with spaces to a multiple of 64
/// bytes and ended by a newline, followed by the elements in C order. Supported dtypes: little-endian
/// <c>f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1</c>. Fortran order, big-endian data, structured dtypes and a data length
/// that does not match the header are rejected with an error naming the file.
/// </summary>
public static class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Headers are padded so the data starts at a multiple of this (NumPy's ARRAY_ALIGN).</summary>
    private const int Alignment = 64;

    private static readonly (string Code, ElementType Type)[] DTypes =
    [
        ("f2", ElementType.Float16), ("f4", ElementType.Float), ("f8", ElementType.Double),
        ("i1", ElementType.Int8), ("i2", ElementType.Int16), ("i4", ElementType.Int32), ("i8", ElementType.Int64),
        ("u1", ElementType.UInt8), ("u2", ElementType.UInt16), ("u4", ElementType.UInt32), ("u8", ElementType.UInt64),
        ("b1", ElementType.Bool),
    ];

    /// <summary>True when tensors of <paramref name="type"/> can be written to and read from .npy.</summary>
    public static bool Supports(ElementType type) => DTypes.Any(d => d.Type == type);

    /// <summary>Reads the whole file into a tensor.</summary>
    public static Tensor Read(string path)
    {
        using var reader = NpyReader.Open(path);
        return reader.ReadAll();
    }

    /// <summary>Reads only the header of <paramref name="path"/> (and checks the file length against it).</summary>
    public static NpyHeader ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Writes <paramref name="tensor"/> as a .npy file (version 1.0, or 2.0 when the header needs it). The file
    /// is written beside the target and renamed, so a failure never leaves a half-written file.</summary>
    public static void Write(string path, Tensor tensor)
    {
        if (!Supports(tensor.Type))
            throw new ArgumentException($"{path}: a {tensor.Type.Name()} tensor cannot be written as .npy; supported: {SupportedText}", nameof(tensor));
        string temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                Write(stream, tensor);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="tensor"/> in .npy format to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        var code = DTypes.FirstOrDefault(d => d.Type == tensor.Type).Code
            ?? throw new ArgumentException($"a {tensor.Type.Name()} tensor cannot be written as .npy; supported: {SupportedText}", nameof(tensor));
        string shape = tensor.Rank == 1 ? $"({tensor.Shape[0]},)" : "(" + string.Join(", ", tensor.Shape) + ")";
        string dict = $"{{'descr': '{(code[1] == '1' ? '|' : '<')}{code}', 'fortran_order': False, 'shape': {shape}, }}";
        // Version 1.0 has a 2-byte header length; beyond 65535 bytes (a very high rank) use 2.0.
        int prefix = Magic.Length + 2 + 2;
        int total = Align(prefix + dict.Length + 1);
        int major = 1;
        if (total - prefix > ushort.MaxValue)
        {
            major = 2;
            prefix = Magic.Length + 2 + 4;
            total = Align(prefix + dict.Length + 1);
        }
        var header = new byte[total];
        Magic.CopyTo(header);
        header[6] = (byte)major;
        header[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(total - prefix));
        else BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)(total - prefix));
        var text = header.AsSpan(prefix);
        text.Fill((byte)' ');
        Encoding.ASCII.GetBytes(dict, text);
        text[^1] = (byte)'\n';
        stream.Write(header);
        WriteData(stream, tensor);
    }

    private static void WriteData(Stream stream, Tensor tensor)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("writing .npy needs a little-endian machine");
        if (tensor.Type != ElementType.Bool)
        {
            stream.Write(tensor.Bytes);
            return;
        }
        var bytes = tensor.Bytes.ToArray(); // NumPy's bool is one byte, 0 or 1
        for (int i = 0; i < bytes.Length; i++) bytes[i] = bytes[i] != 0 ? (byte)1 : (byte)0;
        stream.Write(bytes);
    }

    private static int Align(int n) => (n + Alignment - 1) / Alignment * Alignment;

    private static string SupportedText => string.Join(" ", DTypes.Select(d => d.Code));

    internal static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (FileNotFoundException)
        {
            throw new NpyFormatException($"{path}: no such file");
        }
        catch (DirectoryNotFoundException)
        {
            throw new NpyFormatException($"{path}: no such file");
        }
    }

    /// <summary>Parses the header at the start of <paramref name="stream"/>, leaving the stream at the data; the file
    /// length must match exactly (when the stream can tell its length).</summary>
    public static NpyHeader ReadHeader(Stream stream, string path)
    {
        Span<byte> lead = stackalloc byte[12];
        int got = ReadFully(stream, lead[..10]);
        if (got < 8 || !lead[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"{path}: not a .npy file (it does not start with the magic \\x93NUMPY)");
        int major = lead[6], minor = lead[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new NpyFormatException($"{path}: unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are read)");
        if (got < 10) throw Truncated(path, "in the header length");
        long headerLength;
        int prefix;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(lead[8..]);
            prefix = 10;
        }
        else
        {
            if (ReadFully(stream, lead[10..12]) < 2) throw Truncated(path, "in the header length");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(lead[8..]);
            prefix = 12;
        }
        if (headerLength > 1 << 24) throw new NpyFormatException($"{path}: implausible .npy header length {headerLength}");
        var headerBytes = new byte[headerLength];
        if (ReadFully(stream, headerBytes) < headerLength) throw Truncated(path, "in the header");
        string dict;
        try
        {
            dict = (major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new NpyFormatException($"{path}: the .npy 3.0 header is not valid UTF-8");
        }
        var (type, shape) = ParseDict(dict, path);
        var header = new NpyHeader(type, shape, prefix + headerLength, major, minor);
        long expected;
        try
        {
            expected = checked(header.DataOffset + header.DataLength);
        }
        catch (OverflowException)
        {
            throw new NpyFormatException($"{path}: shape {header.ShapeText} is too large");
        }
        if (stream.CanSeek && stream.Length != expected)
        {
            long have = stream.Length - header.DataOffset;
            throw new NpyFormatException(stream.Length < expected
                ? $"{path}: truncated: the header promises {header.DataLength} bytes of {type.Name()} data for shape {header.ShapeText}, but only {have} bytes follow"
                : $"{path}: {have - header.DataLength} bytes beyond the {header.DataLength} bytes of {type.Name()} data the header promises for shape {header.ShapeText}");
        }
        return header;
    }

    private static NpyFormatException Truncated(string path, string where) => new($"{path}: truncated {where}");

    internal static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Parses NumPy's header dict: exactly the keys descr, fortran_order, shape.</summary>
    private static (ElementType Type, long[] Shape) ParseDict(string text, string path)
    {
        var p = new DictParser(text, path);
        var entries = p.ParseDict();
        foreach (var key in new[] { "descr", "fortran_order", "shape" })
            if (!entries.ContainsKey(key)) throw new NpyFormatException($"{path}: the .npy header has no '{key}' entry: {text.Trim()}");
        foreach (var key in entries.Keys)
            if (key is not ("descr" or "fortran_order" or "shape"))
                throw new NpyFormatException($"{path}: unexpected key '{key}' in the .npy header: {text.Trim()}");

        if (entries["fortran_order"] is not bool fortran)
            throw new NpyFormatException($"{path}: 'fortran_order' must be True or False: {text.Trim()}");
        if (fortran)
            throw new NpyFormatException($"{path}: Fortran-order (column-major) arrays are not supported; save a C-order array (numpy.ascontiguousarray)");

        if (entries["descr"] is not string descr)
            throw new NpyFormatException($"{path}: structured dtypes are not supported (descr is not a plain type string): {text.Trim()}");
        var type = ParseDescr(descr, path);

        if (entries["shape"] is not List<long> dims)
            throw new NpyFormatException($"{path}: 'shape' must be a tuple of integers: {text.Trim()}");
        return (type, dims.ToArray());
    }

    private static ElementType ParseDescr(string descr, string path)
    {
        if (descr.Length == 3)
        {
            char order = descr[0];
            string code = descr[1..];
            var match = DTypes.FirstOrDefault(d => d.Code == code);
            if (match.Code is not null)
            {
                bool oneByte = code[1] == '1';
                if (order == '<' || (order == '|' && oneByte) || (order == '>' && oneByte) || (order == '=' && BitConverter.IsLittleEndian))
                    return match.Type;
                if (order == '>')
                    throw new NpyFormatException($"{path}: big-endian dtype '{descr}' is not supported; save little-endian data (array.astype('<{code}'))");
            }
        }
        throw new NpyFormatException($"{path}: unsupported dtype '{descr}'; supported: {SupportedText} (little-endian)");
    }

    /// <summary>A parser for the Python literal subset NumPy writes: dicts with string keys; values that are strings,
    /// True/False, tuples of non-negative integers, or (for structured dtypes, rejected later) lists.</summary>
    private sealed class DictParser(string text, string path)
    {
        private int _pos;

        public Dictionary<string, object> ParseDict()
        {
            SkipSpace();
            Expect('{');
            var result = new Dictionary<string, object>();
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; break; }
                string key = ParseString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                if (!result.TryAdd(key, ParseValue())) throw Error($"duplicate key '{key}'");
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                SkipSpace();
                Expect('}');
                break;
            }
            SkipSpace();
            if (_pos != text.Length) throw Error("text after the dict");
            return result;
        }

        private object ParseValue()
        {
            char c = Peek();
            if (c is '\'' or '"') return ParseString();
            if (c == '(') return ParseTuple();
            if (c == '[') return ParseList();
            if (Match("True")) return true;
            if (Match("False")) return false;
            throw Error($"unexpected '{c}'");
        }

        private List<long> ParseTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _pos++; return dims; }
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                if (start == _pos) throw Error("a shape dimension must be a non-negative integer");
                // NumPy 1.x on some platforms wrote long literals with an L suffix.
                if (!long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                    throw Error("shape dimension out of range");
                if (_pos < text.Length && text[_pos] == 'L') _pos++;
                dims.Add(d);
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                SkipSpace();
                Expect(')');
                return dims;
            }
        }

        private object ParseList()
        {
            // Only to skip a structured descr with a readable error afterwards.
            int depth = 0;
            do
            {
                char c = Peek();
                if (c is '\'' or '"') { ParseString(); continue; }
                if (c is '[' or '(') depth++;
                else if (c is ']' or ')') depth--;
                _pos++;
            } while (depth > 0);
            return new object();
        }

        private string ParseString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Error("expected a quoted string");
            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0) throw Error("unterminated string");
            string s = text.Substring(_pos + 1, end - _pos - 1);
            _pos = end + 1;
            return s;
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private char Peek() => _pos < text.Length ? text[_pos] : throw Error("unexpected end of the header");

        private void Expect(char c)
        {
            if (Peek() != c) throw Error($"expected '{c}'");
            _pos++;
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private NpyFormatException Error(string what) =>
            new($"{path}: malformed .npy header ({what} at offset {_pos}): {text.Trim()}");
    }
}

/// <summary>
/// Reads a .npy file incrementally: the header first (checked against the file length), then the data in batches
/// of rows of the leading dimension, so calibration sets larger than memory can be streamed.
/// </summary>
public sealed class NpyReader : IDisposable
{
    private readonly FileStream _stream;
    private long _rowsRead;

    private NpyReader(FileStream stream, string path, NpyHeader header)
    {
        _stream = stream;
        Path = path;
        Header = header;
    }

    public static NpyReader Open(string path)
    {
        var stream = NpyFile.OpenRead(path);
        try
        {
            return new NpyReader(stream, path, NpyFile.ReadHeader(stream, path));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public string Path { get; }
    public NpyHeader Header { get; }
    public ElementType Type => Header.Type;
    public long[] Shape => Header.Shape;

    /// <summary>Rows of the leading dimension (the array must have rank ≥ 1).</summary>
    public long Rows => Header.Shape.Length > 0 ? Header.Shape[0]
        : throw new InvalidOperationException($"{Path}: a 0-d array has no rows");

    /// <summary>Rows not read yet.</summary>
    public long RemainingRows => Rows - _rowsRead;

    private long RowElements => Header.Shape.Skip(1).Aggregate(1L, (a, d) => a * d);

    /// <summary>The whole array (only before any rows were read).</summary>
    public Tensor ReadAll()
    {
        if (_rowsRead != 0) throw new InvalidOperationException($"{Path}: rows were already read; ReadAll needs a fresh reader");
        var t = Tensor.Create(Header.Type, Header.Shape);
        ReadInto(t, 0);
        if (Header.Shape.Length > 0) _rowsRead = Header.Shape[0];
        return t;
    }

    /// <summary>The next up to <paramref name="maxRows"/> rows as a tensor of shape [n, ...], or null at the end.</summary>
    public Tensor? ReadRows(long maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        long n = Math.Min(maxRows, RemainingRows);
        if (n == 0) return null;
        var shape = (long[])Header.Shape.Clone();
        shape[0] = n;
        var t = Tensor.Create(Header.Type, shape);
        ReadInto(t, _rowsRead * RowElements * Header.Type.ByteCount(1));
        _rowsRead += n;
        return t;
    }

    /// <summary>All remaining rows in batches of <paramref name="batchRows"/> (the last one may be smaller). The
    /// caller owns (and should dispose) each batch.</summary>
    public IEnumerable<Tensor> ReadBatches(long batchRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        _ = Rows; // a 0-d array fails here, not at the first MoveNext
        return Iterate();

        IEnumerable<Tensor> Iterate()
        {
            while (ReadRows(batchRows) is { } batch) yield return batch;
        }
    }

    private void ReadInto(Tensor t, long dataOffset)
    {
        _stream.Position = Header.DataOffset + dataOffset;
        var bytes = t.Bytes;
        int got = NpyFile.ReadFully(_stream, bytes);
        if (got < bytes.Length)
            throw new NpyFormatException($"{Path}: truncated: the data ended after {dataOffset + got} of {Header.DataLength} bytes");
        if (t.Type == ElementType.Bool)
            foreach (var b in bytes)
                if (b > 1) throw new NpyFormatException($"{Path}: bool element with byte value {b} (NumPy writes 0 or 1)");
    }

    public void Dispose() => _stream.Dispose();
}
