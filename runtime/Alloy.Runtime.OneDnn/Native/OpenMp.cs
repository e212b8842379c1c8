using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// The OpenMP runtime oneDNN is built with (<c>libgomp</c> on Debian). oneDNN parallelises each primitive over
/// <c>omp_get_max_threads()</c> of the calling thread, an OpenMP per-thread setting, so the kernels call
/// <see cref="UseThreads"/> on the executing thread before creating or running a primitive.
/// </summary>
internal static unsafe partial class OpenMp
{
    /// <summary>The OpenMP setting of how idle team threads wait.</summary>
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>
    /// Makes idle OpenMP threads sleep instead of spin (<c>OMP_WAIT_POLICY=PASSIVE</c>) unless the user chose a policy:
    /// the OpenMP team shares the cores with Alloy's own worker threads (which run the managed steps between the
    /// convolutions), and a team spinning through those steps — or a worker spinning through a convolution — takes the
    /// core the other side needs. Must run before the OpenMP runtime is loaded (it reads its environment once then).
    /// Returns the policy in force.
    /// </summary>
    public static string ChooseWaitPolicy()
    {
        var chosen = Environment.GetEnvironmentVariable(WaitPolicyVariable);
        if (!string.IsNullOrEmpty(chosen)) return chosen;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()) SetEnv(WaitPolicyVariable, "PASSIVE", 0);
        return "PASSIVE";
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    private static delegate* unmanaged<int, void> s_setNumThreads;
    private static delegate* unmanaged<int> s_getMaxThreads;

    [ThreadStatic] private static int t_threads;

    /// <summary>Binds the entry points from <paramref name="library"/>; false when it has none.</summary>
    public static bool Bind(nint library)
    {
        if (!NativeLibrary.TryGetExport(library, "omp_set_num_threads", out var set) ||
            !NativeLibrary.TryGetExport(library, "omp_get_max_threads", out var get))
            return false;
        s_setNumThreads = (delegate* unmanaged<int, void>)set;
        s_getMaxThreads = (delegate* unmanaged<int>)get;
        return true;
    }

    /// <summary>Sets the calling thread's OpenMP thread count (a no-op when it already is <paramref name="threads"/>).</summary>
    public static void UseThreads(int threads)
    {
        if (threads < 1) threads = 1;
        if (t_threads == threads || s_setNumThreads == null) return;
        s_setNumThreads(threads);
        t_threads = threads;
    }

    /// <summary>The calling thread's OpenMP thread count (0 when unbound).</summary>
    public static int MaxThreads => s_getMaxThreads == null ? 0 : s_getMaxThreads();
}
