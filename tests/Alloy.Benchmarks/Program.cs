using Alloy.Benchmarks;
using BenchmarkDotNet.Running;

// `make-large-model DIR GIB` writes a model with GIB GiB of external weights (for peak-memory measurements);
// anything else is passed to BenchmarkDotNet (e.g. --filter '*ImportExport*').
if (args.Length == 3 && args[0] == "make-large-model")
{
    Console.WriteLine(SyntheticModels.WriteLarge(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)));
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(ImportExportBenchmark).Assembly).Run(args);
return 0;
