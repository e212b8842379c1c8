using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;

namespace Alloy.Cli;

/// <summary><c>alloy run</c>: runs a model on Alloy's runtime.</summary>
public static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("MODEL") { Description = "Model file (.onnx)" };
        var inputs = new Option<string[]>("--input", "-i") { Description = "NAME=FILE (.npy or .pb); repeat for each input", AllowMultipleArgumentsPerToken = false };
        var outputDir = new Option<string?>("--output-dir") { Description = "Write each output as DIR/<output name>.<ext>" };
        var format = new Option<string>("--output-format") { Description = "npy or pb", DefaultValueFactory = _ => "npy" };
        var repeat = new Option<int>("--repeat") { Description = "Run N times and print latency min/median/max", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: all cores)", DefaultValueFactory = _ => 0 };
        var kernels = new Option<string>("--kernels") { Description = "auto (oneDNN when libdnnl.so.2 loads, else managed), onednn (oneDNN convolutions over the managed kernels), managed (fast AVX-512 kernels for the hot ops, reference kernels for the rest), or reference", DefaultValueFactory = _ => "auto" };
        var random = new Option<bool>("--random-inputs") { Description = "Fill inputs that were not given with seeded random values (symbolic dims = 1)" };
        var inputTypes = ModelLoader.InputTypesOption();
        var profile = new Option<bool>("--profile") { Description = "Time every kernel step (first run excluded when repeating) and print the time per op and the slowest steps to stderr" };
        var cmd = new Command("run", "Run a model on Alloy's runtime") { model, inputs, outputDir, format, repeat, threads, kernels, random, inputTypes };
        cmd.Options.Add(profile);
        cmd.SetAction(r => CliRunner.Run(stderr, () =>
        {
            var path = r.GetValue(model)!;
            var registry = KernelSets.Create(r.GetValue(kernels)!);
            if (r.GetValue(repeat) < 1) throw new UserError("--repeat must be at least 1");
            var ext = r.GetValue(format) is "npy" or "pb" ? r.GetValue(format)! : throw new UserError("--output-format must be npy or pb");
            using var m = ModelLoader.Load(path, r.GetValue(inputTypes));
            var plan = Compile(m, path, registry);
            var given = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var spec in r.GetValue(inputs) ?? [])
                {
                    var eq = spec.IndexOf('=');
                    if (eq <= 0) throw new UserError($"--input '{spec}': expected NAME=FILE");
                    var name = spec[..eq];
                    if (!plan.Inputs.Any(p => p.Name == name))
                        throw new UserError($"{path}: the model has no input '{name}' (inputs: {string.Join(", ", plan.Inputs.Select(p => p.Name))})");
                    given[name] = TensorFiles.Read(spec[(eq + 1)..]);
                }
                foreach (var p in plan.Inputs.Where(p => !given.ContainsKey(p.Name)))
                {
                    if (!r.GetValue(random))
                        throw new UserError($"{path}: input '{p.Name}' was not given (use --input {p.Name}=FILE, or --random-inputs)");
                    given[p.Name] = RandomInput(p);
                }
                var executor = new PlanExecutor(r.GetValue(threads));
                if (r.GetValue(profile)) executor.Profile = new ExecutionProfile();
                var times = new List<double>();
                Tensor?[] outputs = [];
                for (int i = 0; i < r.GetValue(repeat); i++)
                {
                    foreach (var o in outputs) o?.Dispose();
                    if (i == 1) executor.Profile?.Clear(); // the first run packs weights and plans memory
                    var sw = Stopwatch.StartNew();
                    outputs = Execute(executor, plan, given, path);
                    times.Add(sw.Elapsed.TotalMilliseconds);
                }
                try
                {
                    for (int i = 0; i < outputs.Length; i++)
                    {
                        var name = plan.Outputs[i].Name;
                        var t = outputs[i];
                        stdout.WriteLine(t is null ? $"{name}: (not produced)" : $"{name}: {t.Type.Name()}{t.ShapeText}{Preview(t)}");
                        if (t is not null && r.GetValue(outputDir) is { } dir)
                        {
                            Directory.CreateDirectory(dir);
                            TensorFiles.Write(Path.Combine(dir, SafeFileName(name) + "." + ext), name, t);
                        }
                    }
                    if (times.Count > 1)
                    {
                        times.Sort();
                        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"latency over {times.Count} runs: min {times[0]:F3} ms, median {times[times.Count / 2]:F3} ms, max {times[^1]:F3} ms"));
                    }
                    if (executor.Profile is { } p) stderr.Write(p.Format());
                }
                finally
                {
                    foreach (var o in outputs) o?.Dispose();
                }
            }
            finally
            {
                foreach (var t in given.Values) t.Dispose();
            }
        }));
        return cmd;
    }

    private static ExecutionPlan Compile(Model m, string path, KernelRegistry registry)
    {
        try
        {
            return PlanCompiler.Compile(m, registry);
        }
        catch (UnsupportedModelException e)
        {
            throw new UserError($"{path}: {e.Message}");
        }
    }

    private static Tensor?[] Execute(PlanExecutor executor, ExecutionPlan plan, Dictionary<string, Tensor> inputs, string path)
    {
        try
        {
            return executor.Run(plan, inputs);
        }
        catch (ExecutionException e)
        {
            throw new UserError($"{path}: {e.Message}");
        }
    }

    private static Tensor RandomInput(PlanInput p)
    {
        var type = p.Type ?? ElementType.Float;
        var shape = (p.Dims ?? []).Select(d => d ?? 1).ToArray();
        var t = Tensor.Create(type, shape);
        var rng = new Random(p.Name.Aggregate(17, (h, c) => h * 31 + c));
        for (long i = 0; i < t.Length; i++)
        {
            if (type.IsFloat()) ElementConvert.SetDouble(t, i, rng.NextDouble() * 2 - 1);
            else if (type == ElementType.Bool) ElementConvert.SetLong(t, i, rng.Next(2));
            else if (type != ElementType.String) ElementConvert.SetLong(t, i, rng.Next(0, 10));
        }
        return t;
    }

    private static string Preview(Tensor t)
    {
        if (t.Type == ElementType.String || t.Length == 0) return "";
        var n = (int)Math.Min(t.Length, 6);
        var values = Enumerable.Range(0, n).Select(i => t.Type.IsFloat()
            ? ElementConvert.GetDouble(t, i).ToString("G6", CultureInfo.InvariantCulture)
            : ElementConvert.GetLong(t, i).ToString(CultureInfo.InvariantCulture));
        return " = [" + string.Join(", ", values) + (t.Length > n ? ", ..." : "") + "]";
    }

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_'));
}
