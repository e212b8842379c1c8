using Xunit;
using Xunit.Abstractions;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// Whether the oneDNN tests can run: oneDNN must load. On a developer machine without <c>libdnnl2</c> a test returns
/// early and says why; under CI (<c>CI</c> set), where <c>scripts/setup-test-deps.sh</c> installs the library, its
/// absence fails the test instead, so the suite never passes there without running.
/// </summary>
internal static class OneDnnRequirement
{
    public static bool Check(ITestOutputHelper output)
    {
        if (OneDnnLibrary.TryLoad(out var reason))
        {
            output.WriteLine($"oneDNN {OneDnnLibrary.Version}; ISA cap: {OneDnnLibrary.IsaCap}");
            return true;
        }
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
            Assert.Fail($"oneDNN cannot be loaded: {reason} (scripts/setup-test-deps.sh installs libdnnl2)");
        output.WriteLine($"not run: oneDNN cannot be loaded: {reason} (scripts/setup-test-deps.sh installs libdnnl2)");
        return false;
    }
}
