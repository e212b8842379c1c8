using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Alloy.Runtime.OneDnn.Tests")]
[assembly: InternalsVisibleTo("Alloy.Benchmarks")]
