package lakehouse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may open a Thrift session on the lakehouse server (hive.server2.authentication=CUSTOM).
 *
 * <p>Thrift gives SQL over every table, and Spark has no grants on tables: the door admits the
 * server's own service user ({@code lakehouse}, whose password is the server's token, the
 * environment's SPARK_CONNECT_AUTHENTICATE_TOKEN, as for Spark Connect) and the admins of the
 * users file ({@code -Dlakehouse.users.file}), with the PBKDF2 secrets {@code lakehouse users add}
 * writes (lakehouse/serving/access.py). Viewers and analysts read through the API, the dashboard
 * and PostgreSQL, which keep to their scope.
 */
public class LakehouseLogin implements PasswdAuthenticationProvider {
  static final String SERVICE_USER = "lakehouse";
  static final long VERIFIED_FOR_MS = 300_000;

  // Hive makes a provider per login: what outlives one is static.
  private static final byte[] KEY = randomKey();
  private static final Map<String, Long> verified = new ConcurrentHashMap<>();
  private static volatile Map<String, String[]> users = Map.of();
  private static volatile FileTime usersStamp = null;
  private static final Logger LOG = LoggerFactory.getLogger(LakehouseLogin.class);

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    try {
      check(user, password);
    } catch (AuthenticationException refused) {
      LOG.warn("Thrift login refused: {}", refused.getMessage());
      throw refused;
    }
  }

  private static void check(String user, String password) throws AuthenticationException {
    if (user == null || password == null) {
      throw new AuthenticationException("a user name and a password are required");
    }
    if (SERVICE_USER.equals(user)) {
      String token = System.getenv("SPARK_CONNECT_AUTHENTICATE_TOKEN");
      if (token == null || token.isEmpty() || !MessageDigest.isEqual(utf8(token), utf8(password))) {
        throw new AuthenticationException("wrong password for " + user);
      }
      return;
    }
    String[] entry = users().get(user);
    if (entry == null || !secretMatches(user, password, entry[1])) {
      throw new AuthenticationException("unknown user or wrong password: " + user);
    }
    if (!"admin".equals(entry[0])) {
      throw new AuthenticationException(
          user + " (" + entry[0] + ") may not use Thrift: SQL on the warehouse is for admins");
    }
  }

  private static Map<String, String[]> users() throws AuthenticationException {
    String configured = System.getProperty("lakehouse.users.file", "");
    Path path = Path.of(configured);
    try {
      if (configured.isEmpty() || !Files.exists(path)) {
        return Map.of();
      }
      FileTime stamp = Files.getLastModifiedTime(path);
      if (!stamp.equals(usersStamp)) {
        Map<String, String[]> read = new HashMap<>();
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
          if (line.isBlank() || line.startsWith("#")) {
            continue;
          }
          String[] parts = line.split(":", 3); // name:role:pbkdf2_sha256$iterations$salt$hash
          if (parts.length == 3) {
            read.put(parts[0], new String[] {parts[1], parts[2]});
          }
        }
        users = read;
        usersStamp = stamp;
        verified.clear();
      }
      return users;
    } catch (IOException error) {
      throw new AuthenticationException("the users file cannot be read: " + error.getMessage());
    }
  }

  /** A PBKDF2 check costs a good part of a second by design: a pair that passed is remembered a few minutes. */
  private static boolean secretMatches(String user, String password, String encoded)
      throws AuthenticationException {
    try {
      String remembered = user + ":" + Base64.getEncoder().encodeToString(hmac(utf8(password)));
      Long at = verified.get(remembered);
      if (at != null && System.currentTimeMillis() - at < VERIFIED_FOR_MS) {
        return true;
      }
      List<String> parts = List.of(encoded.split("\\$"));
      if (parts.size() != 4 || !"pbkdf2_sha256".equals(parts.get(0))) {
        return false;
      }
      byte[] salt = Base64.getDecoder().decode(parts.get(2));
      byte[] digest = Base64.getDecoder().decode(parts.get(3));
      PBEKeySpec spec =
          new PBEKeySpec(password.toCharArray(), salt, Integer.parseInt(parts.get(1)), digest.length * 8);
      byte[] computed = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
      boolean matches = MessageDigest.isEqual(computed, digest);
      if (matches) {
        verified.put(remembered, System.currentTimeMillis());
      }
      return matches;
    } catch (GeneralSecurityException | IllegalArgumentException error) {
      throw new AuthenticationException("cannot check the password of " + user + ": " + error.getMessage());
    }
  }

  private static byte[] randomKey() {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    return key;
  }

  private static byte[] hmac(byte[] value) throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(KEY, "HmacSHA256"));
    return mac.doFinal(value);
  }

  private static byte[] utf8(String value) {
    return value.getBytes(StandardCharsets.UTF_8);
  }
}
