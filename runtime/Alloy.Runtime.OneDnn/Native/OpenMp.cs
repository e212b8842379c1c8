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

    /// <summary>libgomp's count of polls an idle team thread makes before it sleeps.</summary>
    public const string SpinCountVariable = "GOMP_SPINCOUNT";

    /// <summary>
    /// The spin the loader gives idle OpenMP threads unless the user chose a policy: about the length of Alloy's own
    /// worker spin (<see cref="Alloy.Runtime.Execution.WorkerPool.SpinMicroseconds"/>). libgomp's default spins for
    /// milliseconds, long enough to hold the core through the managed steps between two convolutions; a sleeping team
    /// (<c>OMP_WAIT_POLICY=PASSIVE</c>) instead pays a thread wake-up in every convolution, which on a virtual machine
    /// costs more than a small convolution (mobilenet_v2_w050 at 2 threads: 7.9 ms passive against 3.0 ms with this
    /// spin). Must run before the OpenMP runtime is loaded (it reads its environment once then).
    /// </summary>
    public const string DefaultSpinCount = "30000";

    /// <summary>
    /// Sets <c>GOMP_SPINCOUNT</c> to <see cref="DefaultSpinCount"/> unless <c>OMP_WAIT_POLICY</c> or
    /// <c>GOMP_SPINCOUNT</c> is set; returns the setting in force.
    /// </summary>
    public static string ChooseWaitPolicy()
    {
        var policy = Environment.GetEnvironmentVariable(WaitPolicyVariable);
        if (!string.IsNullOrEmpty(policy)) return $"{WaitPolicyVariable}={policy}";
        var spin = Environment.GetEnvironmentVariable(SpinCountVariable);
        if (!string.IsNullOrEmpty(spin)) return $"{SpinCountVariable}={spin}";
        if (OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()) SetEnv(SpinCountVariable, DefaultSpinCount, 0);
        return $"{SpinCountVariable}={DefaultSpinCount}";
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
        // Alloy's idle workers would otherwise poll on the core the OpenMP team is about to need.
        if (threads > 1) Alloy.Runtime.Execution.WorkerPool.ParkIdleWorkers();
        if (t_threads == threads || s_setNumThreads == null) return;
        s_setNumThreads(threads);
        t_threads = threads;
    }

    /// <summary>The calling thread's OpenMP thread count (0 when unbound).</summary>
    public static int MaxThreads => s_getMaxThreads == null ? 0 : s_getMaxThreads();
}
