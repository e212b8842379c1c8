using System.Diagnostics;
using System.Text.RegularExpressions;
using Alloy.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Tuning.Tests;

/// <summary>
/// The HTML report rendered by headless Chromium (Debian <c>chromium</c>, installed by scripts/setup-test-deps.sh):
/// the page needs nothing from outside, the rendered DOM has one plotted point per evaluated trial and one bar per
/// layer group, and the screenshot is a real drawing (not blank; the chosen point's red ring is visible).
/// </summary>
public sealed class ReportRenderingTests(ITestOutputHelper output)
{
    [Fact]
    public void ChromiumRendersTheReport()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 48);
        var config = new TuningConfig { ConfigSet = [TuningTestKit.AlloyBf16], Strategy = TuningStrategy.Pareto, TolerableLoss = TolerableLoss.Absolute(45), SensitivityInputs = eval.Inputs };
        using var result = Autotuner.Autotune(model, config, eval.Evaluate);
        var html = TuningReportHtml.Write(result, "sqnr");
        var path = Path.Combine(dir, "report.html");
        File.WriteAllText(path, html);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(new Regex(@"\b(src|href)\s*=", RegexOptions.IgnoreCase), html);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);

        int points = result.Trials.Count(t => double.IsFinite(t.Metric));
        Assert.True(points >= 4, $"only {points} points");
        Assert.Equal(result.Graphs[0].Groups.Count, result.Sensitivities.Count);

        var dom = Chromium(dir, "--dump-dom", "file://" + path);
        Assert.Equal(points, Regex.Matches(dom, "<circle class=\"point").Count);
        Assert.Equal(result.Trials.Count(t => t.Passed && double.IsFinite(t.Metric)), Regex.Matches(dom, "<circle class=\"point pass\"").Count);
        Assert.Matches($"<circle class=\"chosen\" data-trial=\"{result.Chosen.Index}\"", dom);
        Assert.Equal(result.Sensitivities.Count, Regex.Matches(dom, "<rect class=\"bar\"").Count);
        Assert.Equal(result.Trials.Count + 1, Regex.Matches(Regex.Match(dom, "<table id=\"history\">.*?</table>", RegexOptions.Singleline).Value, "<tr").Count);

        var shot = Path.Combine(dir, "shot.png");
        Chromium(dir, "--hide-scrollbars", "--window-size=1000,1400", "--screenshot=" + shot, "file://" + path);
        var image = PngImage.Read(shot);
        Assert.Equal((1000, 1400), (image.Width, image.Height));
        int nonWhite = 0, red = 0, green = 0;
        var colours = new HashSet<int>();
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                var (r, g, b) = image.Pixel(x, y);
                colours.Add(r << 16 | g << 8 | b);
                if (r < 240 || g < 240 || b < 240) nonWhite++;
                if (r > 190 && g < 40 && b < 40) red++;       // the chosen point's ring and the threshold line (#d00)
                if (g > 130 && r < 80 && b < 100) green++;     // passing points (#2e9e44)
            }
        output.WriteLine($"{nonWhite} non-white pixels, {colours.Count} colours, {red} red, {green} green");
        Assert.True(nonWhite > image.Width * image.Height / 50, $"the screenshot is nearly blank ({nonWhite} non-white pixels)");
        Assert.True(colours.Count > 20, $"only {colours.Count} colours");
        Assert.True(red > 50, "the chosen point's ring is not drawn");
        Assert.True(green > 20, "no passing point is drawn");
    }

    private static string Chromium(string dir, params string[] args)
    {
        var exe = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("headless Chromium is not installed: run scripts/setup-test-deps.sh (Debian package chromium)");
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={Path.Combine(dir, "chromium-profile")}" }.Concat(args))
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 120 s");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"chromium exited with {p.ExitCode}: {stderr.Result}");
        return stdout;
    }
}
