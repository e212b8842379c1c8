using Alloy.IR;

namespace Alloy.Pipeline;

/// <summary>A transformation of the IR. It reads and rewrites the model only through the IR API and reports what it did through the context.</summary>
public interface IPass
{
    /// <summary>Kebab-case id used in pipeline strings (<c>fold-casts</c>).</summary>
    string Id { get; }

    /// <summary>One line saying what the pass does.</summary>
    string Description { get; }

    void Run(Model model, PassContext context);
}
