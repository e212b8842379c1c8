using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Alloy.Runtime.Execution;

/// <summary>
/// The CPU time the whole process has used (all threads), cheap enough to read around every plan step: on Linux
/// <c>clock_gettime(CLOCK_PROCESS_CPUTIME_ID)</c>, elsewhere <see cref="Process.TotalProcessorTime"/>.
/// </summary>
internal static partial class ProcessCpuClock
{
    private const int ClockProcessCpuTimeId = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static readonly bool UseClock = OperatingSystem.IsLinux() && Probe();

    /// <summary>Process CPU time in milliseconds since an arbitrary origin.</summary>
    public static double Milliseconds()
    {
        if (UseClock && ClockGetTime(ClockProcessCpuTimeId, out var t) == 0) return t.Seconds * 1e3 + t.Nanoseconds * 1e-6;
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalMilliseconds;
    }

    private static bool Probe()
    {
        try
        {
            return ClockGetTime(ClockProcessCpuTimeId, out _) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
