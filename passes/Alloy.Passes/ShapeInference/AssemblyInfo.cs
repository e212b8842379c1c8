using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Alloy.Passes.Tests")]
