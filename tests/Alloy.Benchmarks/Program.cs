using Alloy.Benchmarks;
using BenchmarkDotNet.Running;

// `make-large-model DIR GIB [--sparse]` writes a model with GIB GiB of external weights (for peak-memory
// measurements); `pipeline-phases NODES [RUNS]` times the phases of the BF16 compile and `pipeline-digest NODES` hashes its output; anything else is passed to BenchmarkDotNet (e.g. --filter '*ImportExport*').
if (args.Length is 3 or 4 && args[0] == "make-large-model")
{
    bool dense = !(args.Length == 4 && args[3] == "--sparse");
    Console.WriteLine(SyntheticModels.WriteLarge(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), dense));
    return 0;
}
if (args.Length is 2 or 3 && args[0] == "pipeline-phases")
{
    PipelinePhaseProfile.Run(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture),
        args.Length == 3 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return 0;
}
if (args.Length == 2 && args[0] == "pipeline-digest")
{
    PipelinePhaseProfile.Digest(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(ImportExportBenchmark).Assembly).Run(args);
return 0;
