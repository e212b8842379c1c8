using Alloy.Benchmarks;
using BenchmarkDotNet.Running;

// `make-large-model DIR GIB [--sparse]` writes a model with GIB GiB of external weights (for peak-memory
// measurements); anything else is passed to BenchmarkDotNet (e.g. --filter '*ImportExport*').
if (args.Length is 3 or 4 && args[0] == "make-large-model")
{
    bool dense = !(args.Length == 4 && args[3] == "--sparse");
    Console.WriteLine(SyntheticModels.WriteLarge(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), dense));
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(ImportExportBenchmark).Assembly).Run(args);
return 0;
