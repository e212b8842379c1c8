using System.CommandLine;
using Alloy.IR;
using Alloy.Onnx;

namespace Alloy.Cli;

/// <summary>The <c>alloy</c> command tree.</summary>
public static class Commands
{
    public static RootCommand Build(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Alloy: mixed-precision compiler for neural networks");
        root.Subcommands.Add(Inspect(stdout, stderr));
        root.Subcommands.Add(Convert(stdout, stderr));
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        root.Subcommands.Add(CompileCommand.Create(stdout, stderr));
        root.Subcommands.Add(TuneCommand.Create(stdout, stderr));
        return root;
    }

    private static Argument<string> ModelArgument() => new("MODEL") { Description = "Model file (.onnx, or a TorchScript .pt/.pth archive)" };

    private static Command Inspect(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string?>("MODEL") { Description = "Model file (.onnx, or a TorchScript .pt/.pth archive)", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text" };
        var cpu = new Option<bool>("--cpu") { Description = "Show the CPU features the runtime detects and may use (ALLOY_MAX_CPU_ISA caps them)" };
        var inputTypes = ModelLoader.InputTypesOption();
        var cmd = new Command("inspect", "Show opsets, op histogram, element types, parameters, inputs and outputs; or the CPU") { model, json, cpu, inputTypes };
        cmd.SetAction(r => CliRunner.Run(stderr, () =>
        {
            var path = r.GetValue(model);
            if (r.GetValue(cpu))
            {
                Alloy.Runtime.Cpu.CpuFeatures features;
                try
                {
                    features = Alloy.Runtime.Cpu.CpuFeatures.Detect();
                }
                catch (ArgumentException e)
                {
                    throw new UserError(e.Message.Replace(" (Parameter 'name')", ""));
                }
                stdout.Write(r.GetValue(json) ? features.ToJson() + "\n" : features.ToText());
                if (path is null) return;
            }
            if (path is null) throw new UserError("give a MODEL to inspect, or --cpu");
            using var m = ModelLoader.Load(path, r.GetValue(inputTypes));
            var summary = ModelSummary.Of(m, path);
            stdout.Write(r.GetValue(json) ? SummaryWriter.Json(summary) : SummaryWriter.Text(summary));
        }));
        return cmd;
    }

    private static Command Convert(TextWriter stdout, TextWriter stderr)
    {
        var model = ModelArgument();
        var output = new Option<string>("--output", "-o") { Description = "Output ONNX file", Required = true };
        var emitIr = new Option<string?>("--emit-ir") { Description = "Also write the IR text form to this file" };
        var threshold = new Option<long?>("--external-data-threshold")
        {
            Description = "Store initializers of at least this many bytes in OUT.onnx.data (default: embed unless above 2 GiB)",
        };
        var inputTypes = ModelLoader.InputTypesOption();
        var cmd = new Command("convert", "Import a model and export it unchanged (lossless round trip)") { model, output, emitIr, threshold, inputTypes };
        cmd.SetAction(r => CliRunner.Run(stderr, () =>
        {
            var path = r.GetValue(model)!;
            var outPath = r.GetValue(output)!;
            if (r.GetValue(threshold) is < 0) throw new UserError("--external-data-threshold must be at least 0");
            using var m = ModelLoader.Load(path, r.GetValue(inputTypes));
            Verifier.Check(m);
            if (r.GetValue(emitIr) is { } irPath) AtomicFile.WriteAllText(irPath, IrPrinter.Print(m));
            OnnxExporter.Save(m, outPath, new ExportOptions { ExternalDataThreshold = r.GetValue(threshold) });
            stdout.WriteLine($"wrote {outPath}");
        }));
        return cmd;
    }
}
