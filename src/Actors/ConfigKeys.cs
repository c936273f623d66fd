using Akka.Configuration;

namespace WalsCluster.Actors;

/// <summary>Reads settings keys of one HOCON section and fails at start-up with the key's full name.</summary>
internal static class ConfigKeys
{
    public static int Int(Config c, string section, string key, int min, int max)
    {
        Require(c, section, key);
        int value;
        try
        {
            value = c.GetInt(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"Configuration key '{section}.{key}' = '{c.GetString(key)}' is not an integer.");
        }
        return value >= min && value <= max
            ? value
            : throw new ConfigurationException($"Configuration key '{section}.{key}' = {value} is out of range: it must be between {min} and {max}.");
    }

    /// <summary>A duration; <paramref name="allowZero"/> says whether 0 is accepted (a wait may be 0, a timeout may not),
    /// <paramref name="example"/> is a valid value shown in the error, e.g. "30s".</summary>
    public static TimeSpan Duration(Config c, string section, string key, bool allowZero, string example)
    {
        Require(c, section, key);
        TimeSpan value;
        try
        {
            value = c.GetTimeSpan(key, null, allowInfinite: false);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"Configuration key '{section}.{key}' = '{c.GetString(key)}' is not a duration (e.g. {example}).");
        }
        if (allowZero)
        {
            return value >= TimeSpan.Zero
                ? value
                : throw new ConfigurationException($"Configuration key '{section}.{key}' = {value} must not be negative.");
        }
        return value > TimeSpan.Zero
            ? value
            : throw new ConfigurationException($"Configuration key '{section}.{key}' = {value} must be a positive duration.");
    }

    /// <summary>A non-empty string.</summary>
    public static string String(Config c, string section, string key)
    {
        Require(c, section, key);
        var value = c.GetString(key);
        return string.IsNullOrWhiteSpace(value)
            ? throw new ConfigurationException($"Configuration key '{section}.{key}' must not be empty.")
            : value.Trim();
    }

    /// <summary>on/off, true/false, yes/no.</summary>
    public static bool Bool(Config c, string section, string key)
    {
        Require(c, section, key);
        return c.GetString(key)?.Trim().ToLowerInvariant() switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            var other => throw new ConfigurationException($"Configuration key '{section}.{key}' = '{other}' is not on or off."),
        };
    }

    private static void Require(Config c, string section, string key)
    {
        if (!c.HasPath(key))
        {
            throw new ConfigurationException($"Configuration key '{section}.{key}' is missing.");
        }
    }
}
